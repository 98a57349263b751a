// tourcast-server's token file and Authorization header.
#include "fuzz_check.h"
#include "server_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text = tourcast_fuzz::as_text(data, size);
  tourcast::TourTokens tokens;
  std::string error;
  if (!tourcast::parse_token_file(text, &tokens, &error)) {
    tourcast_fuzz::check_error_message(error);
  } else {
    std::string rebuilt;
    for (const auto &[tour, list] : tokens)
      for (const auto &token : list)
        rebuilt += tour + " " + token + "\n";
    tourcast::TourTokens again;
    FUZZ_CHECK(tourcast::parse_token_file(rebuilt, &again, &error), error);
    FUZZ_CHECK(again == tokens, rebuilt);
  }
  std::string token;
  if (tourcast::parse_bearer(text, &token))
    FUZZ_CHECK(!token.empty() && token.size() <= 256, token);
  return 0;
}
