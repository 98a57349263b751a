/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Lua scripts run by Redis, so that each read-modify-write of a shared key is
 * atomic whatever the number of guides, attendees and servers writing it.
 */
#pragma once

namespace tourcast {

/* Sentinel that prefixes the error reply when the stored coordination value
 * is not what tourcast wrote; the signaller turns it into a warning. */
inline constexpr char kMalformedCoordinationTag[] = "TOURCAST_MALFORMED";

/* KEYS[1] coordination key.
 * ARGV: role ("guide"|"attendee"), participant id, now (ms since epoch),
 *       op ("join"|"heartbeat"|"status"|"leave"), connected ("1"|"0"|""),
 *       iceGatheringComplete ("1"|"0"|""), connectionPhase ("" keeps it),
 *       participant key prefix (attendees whose participant key expired are
 *       dropped, whatever their heartbeat interval; "" keeps all),
 *       ttl_ms (an abandoned channel's record goes away after that long). */
inline constexpr char kUpdateCoordinationScript[] = R"lua(
local raw = redis.call('GET', KEYS[1])
local st
if raw then
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' or type(v.participants) ~= 'table'
     or type(v.participants.guide) ~= 'table'
     or type(v.participants.attendees) ~= 'table' then
    return redis.error_reply('TOURCAST_MALFORMED ' .. KEYS[1] ..
      ' does not hold a tourcast coordination JSON object; left unchanged')
  end
  st = v
else
  st = {guideReady = false, attendeeReady = false, iceExchangeStarted = false,
        lastHeartbeat = 0, connectionPhase = 'initial',
        participants = {guide = {connected = false, lastSeen = 0, iceGatheringComplete = false},
                        attendees = {}}}
end
local role, id, now, op = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local prune_prefix = ARGV[8]
local p = nil
if role == 'guide' then
  p = st.participants.guide
  st.guideReady = (op ~= 'leave')
  if op == 'leave' then p.connected = false end
else
  if op == 'leave' then
    st.participants.attendees[id] = nil
  else
    p = st.participants.attendees[id]
    if type(p) ~= 'table' then
      p = {connected = false, lastSeen = 0, iceGatheringComplete = false}
      st.participants.attendees[id] = p
    end
  end
end
if p then
  p.lastSeen = now
  if ARGV[5] ~= '' then p.connected = (ARGV[5] == '1') end
  if ARGV[6] ~= '' then p.iceGatheringComplete = (ARGV[6] == '1') end
end
if prune_prefix ~= '' then
  for aid, a in pairs(st.participants.attendees) do
    if type(a) ~= 'table' or redis.call('EXISTS', prune_prefix .. aid) == 0 then
      st.participants.attendees[aid] = nil
    end
  end
end
st.attendeeReady = next(st.participants.attendees) ~= nil
if ARGV[7] ~= '' then st.connectionPhase = ARGV[7] end
if role == 'guide' and op == 'leave' then st.connectionPhase = 'initial' end
if ARGV[7] == 'ice_exchange' then st.iceExchangeStarted = true end
st.lastHeartbeat = now
redis.call('SET', KEYS[1], cjson.encode(st), 'PX', ARGV[9])
return 1
)lua";

/* KEYS[1] offer key. ARGV: offer JSON, ttl ms.
 * Returns 1 when it replaced an attendee's placeholder, 0 otherwise: the
 * seed's executeReplaceOfferTransaction. */
inline constexpr char kReplaceOfferScript[] = R"lua(
local cur = redis.call('GET', KEYS[1])
local replaced = 0
if cur then
  local ok, v = pcall(cjson.decode, cur)
  if ok and type(v) == 'table' and v.placeholder == true then replaced = 1 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return replaced
)lua";

/* KEYS[1] candidate queue. ARGV: record JSON, pub/sub channel, message JSON,
 * max queue length, ttl ms. Queue and publish in one step so a reader that
 * sees a gap in the sequence can find the missing candidate in the queue. */
inline constexpr char kPushCandidateScript[] = R"lua(
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
)lua";

}  // namespace tourcast
