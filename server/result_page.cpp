// HTML result and error pages for POST /predict. Styles come from the embedded style.css
// (the Content-Security-Policy forbids inline styles), bars are <meter> elements.
// Tested by tests/server/test_api.cpp.
#include "server/result_page.h"

#include <cstdio>

#include "server/http_util.h"

namespace scrawl::server {
namespace {

std::string page(const std::string& title, const std::string& main) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         html_escape(title) +
         "</title>"
         "<link rel=\"stylesheet\" href=\"/style.css\"></head>\n"
         "<body><main class=\"result-page\"><h1><a href=\"/\">scrawl</a></h1>\n" +
         main +
         "<p><a class=\"button\" href=\"/\">Read another digit</a></p></main></body></html>\n";
}

std::string percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * p);
  return buf;
}

}  // namespace

std::string result_page_html(const nlohmann::json& r) {
  const std::string number = r.value("number", std::string());
  const double confidence = r.value("confidence", 0.0);
  std::string main =
      "<section class=\"answer\" aria-live=\"polite\">"
      "<p class=\"answer-label\">scrawl reads</p>"
      "<p class=\"answer-digit\" id=\"answer\">" +
      html_escape(number) +
      "</p>"
      "<p class=\"answer-confidence\">confidence " +
      percent(confidence) + "</p>";
  if (confidence < kNotSureBelow)
    main +=
        "<p class=\"not-sure\">Not sure: this does not look much like any digit. "
        "Try a thicker stroke, or one digit per image.</p>";
  main +=
      "</section>\n<table class=\"probabilities\"><caption>Probability of each digit</caption>"
      "<tbody>\n";
  const auto& probs = r["probabilities"];
  for (size_t d = 0; d < probs.size() && d < 10; ++d) {
    const double p = probs[d].get<double>();
    main += "<tr><th scope=\"row\">" + std::to_string(d) +
            "</th><td><meter min=\"0\" max=\"1\" value=\"" + std::to_string(p) + "\">" +
            percent(p) + "</meter></td><td>" + percent(p) + "</td></tr>\n";
  }
  main += "</tbody></table>\n";
  return page("scrawl reads " + number, main);
}

std::string error_page_html(unsigned status, const std::string& message) {
  return page("scrawl: could not read this image",
              "<section class=\"error\" role=\"alert\"><p class=\"error-title\">Could not read "
              "this image</p><p>" +
                  html_escape(message) + "</p><p class=\"error-status\">HTTP " +
                  std::to_string(status) + "</p></section>\n");
}

}  // namespace scrawl::server
