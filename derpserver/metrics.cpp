// SPDX-License-Identifier: MIT
#include "derpserver/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace derpserver {

std::string_view drop_reason_name(DropReason r) noexcept {
  switch (r) {
    case DropReason::unknown_dest:
      return "unknown_dest";
    case DropReason::unknown_dest_on_fwd:
      return "unknown_dest_on_fwd";
    case DropReason::gone_disconnected:
      return "gone_disconnected";
    case DropReason::queue_head:
      return "queue_head";
    case DropReason::queue_tail:
      return "queue_tail";
    case DropReason::write_error:
      return "write_error";
    case DropReason::dup_client:
      return "dup_client";
    case DropReason::count_:
      break;
  }
  return "unknown";
}

void ShardCounters::note_queue_time(std::uint64_t us) noexcept {
  std::size_t i = 0;
  while (i < kQueueTimeBucketsUs.size() && us > kQueueTimeBucketsUs[i]) ++i;
  queue_time_buckets[i].fetch_add(1, std::memory_order_relaxed);
  queue_time_sum_us.fetch_add(us, std::memory_order_relaxed);
  // Single writer: a plain read-modify-write is enough.
  const double ms = static_cast<double>(us) / 1000.0;
  const double old = queue_time_ema_ms.load(std::memory_order_relaxed);
  queue_time_ema_ms.store(old * 0.9 + ms * 0.1, std::memory_order_relaxed);
}

std::string prom_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void prom_header(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void prom_labeled(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  char buf[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buf, sizeof buf, " %.0f\n", value);
  } else {
    std::snprintf(buf, sizeof buf, " %g\n", value);
  }
  out += buf;
}

void prom_metric(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help, double value) {
  prom_header(out, name, type, help);
  prom_labeled(out, name, {}, value);
}

}  // namespace derpserver
