#pragma once
// Which events of the stream notify one user, decided as the router decides them, for a client
// reading history: a follow of the user, a private message to it, a broadcast, a status update
// of someone it follows at that point of the stream. The users it follows are tracked from
// the follow and unfollow events it reads, starting from the set it followed before the first.

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "eventserver/core/digit_word.hpp"
#include "eventserver/core/event.hpp"

namespace eventserver {

class user_filter {
 public:
  // `following`: whom the user followed before the first event it will be shown (any order).
  user_filter(user_id user, std::vector<user_id> following);

  // True when `ev` notifies the user; a follow or unfollow by the user updates the set.
  bool notifies(const event& ev);

  // The same over a run of history: `lines` holds the notifications of consecutive sequence
  // numbers from `first`, each "payload\r\n" ("\r\n" alone for a no-op). Calls
  // take(seq, line) for each line that notifies the user, `line` with its "\r\n", in order;
  // returns how many numbers the run held.
  //
  // What a client in catch-up costs is this loop, once per event per client, so it does not
  // parse what it need not: the sequence number is known and only skipped (its digit count
  // follows `seq`), a broadcast is recognised by its type byte, and only the ids an event's
  // type needs are read. Any line that is not in the exact form the daemon stores takes
  // the careful way (framed, parse_event, notifies); the result is the same for every input.
  template <class Take>
  std::uint64_t scan(std::string_view lines, sequence_number first, Take&& take);

  user_id user() const noexcept { return user_; }
  std::span<const user_id> following() const noexcept { return following_; }

 private:
  // The careful way for one line (framed: `line` includes its '\n').
  bool notifies_line(std::string_view line, sequence_number seq);
  void followed(user_id whom);
  void unfollowed(user_id whom);
  // Most status updates a client in catch-up reads are from users it does not follow: one
  // bit of `maybe_` says so without the search.
  bool follows(user_id whom) const noexcept { return maybe_follows(whom) && search(whom); }
  bool search(user_id whom) const noexcept;
  bool maybe_follows(user_id whom) const noexcept {
    return ((maybe_[(whom / 64) % maybe_words] >> (whom % 64)) & 1U) != 0;
  }
  void mark(user_id whom) noexcept { maybe_[(whom / 64) % maybe_words] |= std::uint64_t{1} << (whom % 64); }
  void remark() noexcept;  // maybe_ from following_ alone (after an unfollow)

  user_id user_;
  std::vector<user_id> following_;  // sorted
  // A bit per id modulo 4096, set for every id in following_: clear means "not followed". Ids
  // are numbered densely from 1, so users that share a bit are 4096 apart. On the heap (a
  // pointer in the filter): every client's stream holds room for a filter, used only in catch-up.
  static constexpr std::size_t maybe_words = 64;
  std::unique_ptr<std::uint64_t[]> maybe_ = std::make_unique<std::uint64_t[]>(maybe_words);  // zeroed
};

namespace detail {

// Digits at p, up to 19 of them (no overflow), stopping at the first byte that is not a digit
// or at `end`. False when there is none, or more than 19.
[[gnu::always_inline]] inline bool scan_id(const char*& p, const char* end, user_id& value) noexcept {
  const char* const first = p;
  user_id n = 0;
  for (unsigned digit; p != end && (digit = static_cast<unsigned char>(*p) - unsigned{'0'}) <= 9; ++p) {
    n = n * 10 + digit;
  }
  value = n;
  return p != first && p - first <= 19;
}

// scan_id for 8 readable bytes at p: an id of up to 7 digits in one word (digit_word.hpp, as
// parse_event_line reads them); a longer one, or fewer than 8 bytes before `end`, the byte loop.
[[gnu::always_inline]] inline bool scan_id_word(const char*& p, const char* end, user_id& value) noexcept {
  if (end - p >= 8) {
    bool decided = false;
    const bool taken = scan_number_word(p, value, decided);
    if (decided) return taken;
  }
  return scan_id(p, end, value);
}

// Whether the `count` bytes at p are all digits, `available` bytes being readable from p.
[[gnu::always_inline]] inline bool all_digits(const char* p, std::size_t count, std::size_t available) noexcept {
  if (count <= 8 && available >= 8) {
    const std::uint64_t mask = count == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * count)) - 1;
    return (non_digits(load_word(p)) & mask) == 0;
  }
  bool digits = true;
  for (std::size_t i = 0; i < count; ++i) digits &= static_cast<unsigned char>(p[i] - '0') <= 9;
  return digits;
}

}  // namespace detail

template <class Take>
std::uint64_t user_filter::scan(std::string_view lines, sequence_number first, Take&& take) {
  const char* p = lines.data();
  const char* const end = p + lines.size();
  sequence_number seq = first;
  // Digits of seq, and the first number with one more.
  std::size_t seq_digits = 1;
  sequence_number more_digits_at = 10;
  while (more_digits_at <= seq && seq_digits < 19) {
    ++seq_digits;
    more_digits_at *= 10;
  }
  for (; p != end; ++seq) {
    if (seq >= more_digits_at && seq_digits < 19) {
      ++seq_digits;
      more_digits_at *= 10;
    }
    const char* const line = p;
    // The shortest line, "N|B\r\n": the checks below read no further than that without `end`.
    // The sequence number: digits, as many as seq has (their value is not needed: like
    // notifies(), the filter does not look at it).
    const auto available = static_cast<std::size_t>(end - p);
    const bool stored_form = available >= seq_digits + 4 && line[seq_digits] == '|' &&
                             detail::all_digits(line, seq_digits, available);
    const char* q = line + seq_digits;
    if (stored_form) {
      const char type = q[1];
      q += 2;
      if (type == 'B') {
        if (q[0] == '\r' && q[1] == '\n') {
          p = q + 2;
          take(seq, std::string_view(line, static_cast<std::size_t>(p - line)));
          continue;
        }
      } else if (q[0] == '|') {
        ++q;
        user_id from = 0;
        user_id to = 0;
        if (detail::scan_id_word(q, end, from)) {
          if (type == 'S') {
            if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
              p = q + 2;
              if (follows(from)) take(seq, std::string_view(line, static_cast<std::size_t>(p - line)));
              continue;
            }
          } else if (q != end && *q == '|' && (++q, detail::scan_id_word(q, end, to)) && end - q >= 2 && q[0] == '\r' &&
                     q[1] == '\n') {
            p = q + 2;
            bool notify = false;
            if (type == 'P') {
              notify = to == user_;
            } else if (type == 'F') {
              if (from == user_) followed(to);
              notify = to == user_;
            } else if (type == 'U') {
              if (from == user_) unfollowed(to);
            } else {
              p = line;  // an unknown type: the careful way
            }
            if (p != line) {
              if (notify) take(seq, std::string_view(line, static_cast<std::size_t>(p - line)));
              continue;
            }
          }
        }
      }
    }
    // The careful way: frame the line and parse it as the live path would have.
    const void* nl = std::memchr(line, '\n', static_cast<std::size_t>(end - line));
    p = nl != nullptr ? static_cast<const char*>(nl) + 1 : end;
    const std::string_view framed(line, static_cast<std::size_t>(p - line));
    if (notifies_line(framed, seq)) take(seq, framed);
  }
  return seq - first;
}

}  // namespace eventserver
