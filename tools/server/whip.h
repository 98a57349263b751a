// A browser publishing as a channel's guide (WHIP): a pipeline in the server,
//   webrtcbin (answers the browser's offer) ! rtpopusdepay ! opusdec ! audioconvert
//     ! audioresample ! tourguidesink tour=... language=...
// so the browser's microphone fans out to the channel's attendees like any guide's.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gst/gst.h>

namespace tourcast_server {

struct WhipSettings {
  std::string tour;
  std::string language;
  std::string redis_url;
  std::string ice_addresses;  // comma-separated, may be empty
};

class WhipPublisher {
 public:
  // answer: the SDP answer (with the server's candidates), or "" and the error.
  using AnswerCallback = std::function<void(const std::string &answer, const std::string &error)>;
  // stopped: the pipeline ended by itself (error, browser gone); runs on the main context.
  using StoppedCallback = std::function<void(const std::string &why)>;

  WhipPublisher(WhipSettings settings, StoppedCallback stopped);
  ~WhipPublisher();  // stops the pipeline (every element to NULL)
  WhipPublisher(const WhipPublisher &) = delete;
  WhipPublisher &operator=(const WhipPublisher &) = delete;

  // Builds and starts the pipeline and answers `offer`; `done` runs once, on the main
  // context, when the answer (with gathered candidates) is ready or failed.
  bool start(const std::string &offer, AnswerCallback done, std::string *error);
  // Trickled browser candidates.
  void add_candidate(unsigned mline, const std::string &candidate);
  void stop();
  // "new", "connecting", "connected", ... (webrtcbin's connection-state).
  std::string connection_state() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tourcast_server
