// Image decoding with limits checked from the file header before OpenCV allocates pixels, and
// EXIF orientation applied by us for every format (imdecode's IMREAD_UNCHANGED, which keeps
// alpha, ignores EXIF). Tested by tests/unit/test_vision.cpp (limits, garbage, EXIF, alpha).
#include "host/vision/preprocess.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "host/error.h"

namespace scrawl::vision {
namespace {

// Bounds-checked little/big-endian reads over the input bytes.
struct Bytes {
  const uint8_t* p;
  size_t n;

  bool has(size_t off, size_t len) const { return off <= n && len <= n - off; }
  uint32_t be16(size_t off) const { return (uint32_t(p[off]) << 8) | p[off + 1]; }
  uint32_t be32(size_t off) const { return (be16(off) << 16) | be16(off + 2); }
  uint32_t le16(size_t off) const { return p[off] | (uint32_t(p[off + 1]) << 8); }
  uint32_t le32(size_t off) const { return le16(off) | (le16(off + 2) << 16); }
  bool tag(size_t off, const char* s) const {
    size_t len = std::strlen(s);
    return has(off, len) && std::memcmp(p + off, s, len) == 0;
  }
};

// Orientation (1..8) from a TIFF structure (the body of an EXIF block); 1 when absent or bad.
int exif_orientation(const uint8_t* data, size_t size) {
  Bytes b{data, size};
  if (!b.has(0, 8)) return 1;
  bool little;
  if (b.tag(0, "II")) {
    little = true;
  } else if (b.tag(0, "MM")) {
    little = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t off) { return little ? b.le16(off) : b.be16(off); };
  auto u32 = [&](size_t off) { return little ? b.le32(off) : b.be32(off); };
  if (u16(2) != 42) return 1;
  size_t ifd = u32(4);
  if (!b.has(ifd, 2)) return 1;
  size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    size_t entry = ifd + 2 + 12 * i;
    if (!b.has(entry, 12)) break;
    if (u16(entry) != 0x0112) continue;
    uint32_t type = u16(entry + 2);
    uint32_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;
    return value >= 1 && value <= 8 ? int(value) : 1;
  }
  return 1;
}

// An EXIF payload that may or may not start with the "Exif\0\0" preamble (WebP writers differ).
int exif_payload_orientation(const uint8_t* data, size_t size) {
  if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) {
    data += 6;
    size -= 6;
  }
  return exif_orientation(data, size);
}

[[noreturn]] void header_bad(ImageFormat format, const std::string& what) {
  throw FormatError(std::string("malformed ") + image_format_name(format) + " header: " + what);
}

ImageHeader png_header(const Bytes& b) {
  ImageHeader h{ImageFormat::Png};
  if (!b.has(0, 24) || !b.tag(12, "IHDR")) header_bad(h.format, "no IHDR chunk");
  h.width = int(std::min<uint32_t>(b.be32(16), std::numeric_limits<int>::max()));
  h.height = int(std::min<uint32_t>(b.be32(20), std::numeric_limits<int>::max()));
  // Walk the chunks for eXIf (a jump per chunk, no data read).
  size_t off = 8;
  while (b.has(off, 8)) {
    size_t len = b.be32(off);
    if (b.tag(off + 4, "eXIf") && b.has(off + 8, len)) {
      h.orientation = exif_orientation(b.p + off + 8, len);
    }
    if (b.tag(off + 4, "IEND")) break;
    if (len > b.n) break;
    off += 12 + len;
  }
  return h;
}

ImageHeader jpeg_header(const Bytes& b) {
  ImageHeader h{ImageFormat::Jpeg};
  size_t off = 2;
  bool found = false;
  while (b.has(off, 1) && !found) {
    if (b.p[off] != 0xFF) header_bad(h.format, "expected a marker");
    while (b.has(off, 1) && b.p[off] == 0xFF) ++off;  // fill bytes
    if (!b.has(off, 1)) break;
    uint8_t marker = b.p[off++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) break;  // end of image or start of scan before any SOF
    if (!b.has(off, 2)) break;
    size_t len = b.be16(off);
    if (len < 2) header_bad(h.format, "segment length below 2");
    size_t seg = off + 2, seg_len = len - 2;
    bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (seg_len < 5 || !b.has(seg, 5)) header_bad(h.format, "truncated SOF segment");
      h.height = int(b.be16(seg + 1));
      h.width = int(b.be16(seg + 3));
      found = true;
    } else if (marker == 0xE1 && h.orientation == 1 && seg_len >= 6 && b.has(seg, 6) &&
               std::memcmp(b.p + seg, "Exif\0\0", 6) == 0) {
      size_t avail = std::min(seg_len, b.n - seg);
      h.orientation = exif_orientation(b.p + seg + 6, avail - 6);
    }
    off = seg + seg_len;
  }
  if (!found) header_bad(h.format, "no frame header (SOF) before the image data");
  return h;
}

ImageHeader bmp_header(const Bytes& b) {
  ImageHeader h{ImageFormat::Bmp};
  if (!b.has(0, 26)) header_bad(h.format, "truncated");
  uint32_t dib = b.le32(14);
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes
    h.width = int(b.le16(18));
    h.height = int(b.le16(20));
  } else if (dib >= 16) {
    int32_t w = int32_t(b.le32(18)), hh = int32_t(b.le32(22));  // height < 0: top-down rows
    if (w <= 0 || hh == std::numeric_limits<int32_t>::min()) header_bad(h.format, "bad size");
    h.width = w;
    h.height = hh < 0 ? -hh : hh;
  } else {
    header_bad(h.format, "unknown info header size " + std::to_string(dib));
  }
  return h;
}

ImageHeader webp_header(const Bytes& b) {
  ImageHeader h{ImageFormat::Webp};
  if (!b.has(12, 8)) header_bad(h.format, "truncated");
  if (b.tag(12, "VP8 ")) {  // lossy: frame tag (3 bytes), start code 9d 01 2a, 14-bit sizes
    if (!b.has(20, 10) || b.p[23] != 0x9D || b.p[24] != 0x01 || b.p[25] != 0x2A) {
      header_bad(h.format, "bad VP8 frame header");
    }
    h.width = int(b.le16(26) & 0x3FFF);
    h.height = int(b.le16(28) & 0x3FFF);
  } else if (b.tag(12, "VP8L")) {  // lossless: signature 0x2f, then 14-bit (size - 1) each
    if (!b.has(20, 5) || b.p[20] != 0x2F) header_bad(h.format, "bad VP8L header");
    uint32_t bits = b.le32(21);
    h.width = int(bits & 0x3FFF) + 1;
    h.height = int((bits >> 14) & 0x3FFF) + 1;
  } else if (b.tag(12, "VP8X")) {  // extended: 24-bit (canvas size - 1), then chunks
    if (!b.has(20, 10)) header_bad(h.format, "truncated VP8X chunk");
    h.width = int(b.le16(24) | (uint32_t(b.p[26]) << 16)) + 1;
    h.height = int(b.le16(27) | (uint32_t(b.p[29]) << 16)) + 1;
    size_t off = 12;
    while (b.has(off, 8)) {
      size_t len = b.le32(off + 4);
      if (b.tag(off, "EXIF") && b.has(off + 8, len)) {
        h.orientation = exif_payload_orientation(b.p + off + 8, len);
        break;
      }
      if (len > b.n) break;
      off += 8 + len + (len & 1);
    }
  } else {
    header_bad(h.format, "unknown WebP chunk");
  }
  return h;
}

// Rotates/flips the decoded pixels to display orientation (as OpenCV's own ExifTransform).
cv::Mat orientation_apply(cv::Mat img, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(img, out, 1);
      return out;
    case 3:
      cv::flip(img, out, -1);
      return out;
    case 4:
      cv::flip(img, out, 0);
      return out;
    case 5:
      cv::transpose(img, out);
      return out;
    case 6:
      cv::transpose(img, out);
      cv::flip(out, out, 1);
      return out;
    case 7:
      cv::transpose(img, out);
      cv::flip(out, out, -1);
      return out;
    case 8:
      cv::transpose(img, out);
      cv::flip(out, out, 0);
      return out;
    default:
      return img;
  }
}

void limits_check(int width, int height, const DecodeLimits& limits, const char* format) {
  if (width <= 0 || height <= 0) {
    throw FormatError(std::string(format) + " header gives an empty size " + std::to_string(width) +
                      "x" + std::to_string(height));
  }
  if (width > limits.max_side || height > limits.max_side ||
      uint64_t(width) * uint64_t(height) > limits.max_pixels) {
    throw TooLargeError("image is " + std::to_string(width) + "x" + std::to_string(height) +
                        " pixels; the limit is " + std::to_string(limits.max_side) +
                        " per side and " + std::to_string(limits.max_pixels) + " in all");
  }
}

}  // namespace

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Png:
      return "PNG";
    case ImageFormat::Jpeg:
      return "JPEG";
    case ImageFormat::Bmp:
      return "BMP";
    case ImageFormat::Webp:
      return "WebP";
    default:
      return "unknown";
  }
}

ImageFormat image_format_sniff(const void* data, size_t size) {
  Bytes b{static_cast<const uint8_t*>(data), data ? size : 0};
  if (b.tag(0, "\x89PNG\r\n\x1a\n")) return ImageFormat::Png;
  if (b.has(0, 3) && b.p[0] == 0xFF && b.p[1] == 0xD8 && b.p[2] == 0xFF) return ImageFormat::Jpeg;
  if (b.tag(0, "BM") && b.has(0, 14)) return ImageFormat::Bmp;
  if (b.tag(0, "RIFF") && b.tag(8, "WEBP")) return ImageFormat::Webp;
  return ImageFormat::Unknown;
}

ImageHeader image_header_read(const void* data, size_t size) {
  if (data == nullptr || size == 0) throw FormatError("empty input: no image bytes");
  Bytes b{static_cast<const uint8_t*>(data), size};
  switch (image_format_sniff(data, size)) {
    case ImageFormat::Png:
      return png_header(b);
    case ImageFormat::Jpeg:
      return jpeg_header(b);
    case ImageFormat::Bmp:
      return bmp_header(b);
    case ImageFormat::Webp:
      return webp_header(b);
    default:
      throw FormatError("not an image format we read (PNG, JPEG, BMP or WebP)");
  }
}

cv::Mat image_decode(const void* data, size_t size, const DecodeLimits& limits) {
  if (data == nullptr || size == 0) throw FormatError("empty input: no image bytes");
  if (size > limits.max_bytes) {
    throw TooLargeError("image is " + std::to_string(size) + " bytes; the limit is " +
                        std::to_string(limits.max_bytes));
  }
  ImageHeader header = image_header_read(data, size);
  const char* name = image_format_name(header.format);
  limits_check(header.width, header.height, limits, name);

  cv::Mat img;
  try {
    // imdecode only reads the buffer; the const_cast never leads to a write.
    cv::Mat buf(1, int(std::min<size_t>(size, std::numeric_limits<int>::max())), CV_8U,
                const_cast<void*>(data));
    img = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw FormatError(std::string("could not decode the ") + name + " image: " + e.what());
  }
  if (img.empty()) {
    throw FormatError(std::string("could not decode the ") + name +
                      " image (corrupt or truncated)");
  }
  // The decoder may disagree with our header parse; the limits hold either way.
  limits_check(img.cols, img.rows, limits, name);

  if (img.depth() == CV_16U) {
    img.convertTo(img, CV_8U, 1.0 / 257.0);
  } else if (img.depth() != CV_8U) {
    throw FormatError(std::string("unsupported ") + name + " pixel depth");
  }
  if (img.channels() == 2) {  // grey + alpha -> BGRA
    cv::Mat ch[2];
    cv::split(img, ch);
    cv::Mat planes[4] = {ch[0], ch[0], ch[0], ch[1]};
    cv::merge(planes, 4, img);
  } else if (img.channels() != 1 && img.channels() != 3 && img.channels() != 4) {
    throw FormatError(std::string("unsupported ") + name + " channel count " +
                      std::to_string(img.channels()));
  }
  return orientation_apply(img, header.orientation);
}

cv::Mat image_read(const std::string& path, const DecodeLimits& limits) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FormatError("cannot open image file '" + path + "'");
  std::streamoff size = in.tellg();
  if (size < 0) throw FormatError("cannot read image file '" + path + "'");
  if (uint64_t(size) > limits.max_bytes) {
    throw TooLargeError(path + ": file is " + std::to_string(size) + " bytes; the limit is " +
                        std::to_string(limits.max_bytes));
  }
  std::vector<char> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(bytes.data(), size)) {
    throw FormatError("cannot read image file '" + path + "'");
  }
  try {
    return image_decode(bytes.data(), bytes.size(), limits);
  } catch (const TooLargeError& e) {
    throw TooLargeError(path + ": " + e.what());
  } catch (const FormatError& e) {
    throw FormatError(path + ": " + e.what());
  }
}

}  // namespace scrawl::vision
