// SPDX-License-Identifier: MIT
// libFuzzer target: Tailscale's DERPMap JSON. A map that parses must write out as JSON that
// parses to an equal map (parse -> write -> parse), and every accessor must hold on it.
// Numbers with fractions compare within a relative 1e-12: Boost 1.81 does not always round
// a decimal to the nearest double, so one written and read again may move by an ULP.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "derp/derp_map.hpp"

namespace {

bool close(double a, double b) {
  return std::fabs(a - b) <= 1e-12 * std::fmax(std::fabs(a), 1.0);
}

bool close(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || close(*a, *b));
}

// a == b, numbers with fractions compared by close(). Overwrites b's numbers with a's.
bool same(const derp::DerpMap& a, derp::DerpMap b) {
  if (a.region_score.has_value() != b.region_score.has_value()) return false;
  if (a.region_score) {
    if (a.region_score->size() != b.region_score->size()) return false;
    for (const auto& [id, score] : *a.region_score) {
      auto it = b.region_score->find(id);
      if (it == b.region_score->end() || !close(score, it->second)) return false;
      it->second = score;
    }
  }
  for (const auto& [id, r] : a.regions) {
    auto it = b.regions.find(id);
    if (it == b.regions.end()) return false;
    if (!close(r.latitude, it->second.latitude) || !close(r.longitude, it->second.longitude)) {
      return false;
    }
    it->second.latitude = r.latitude;
    it->second.longitude = r.longitude;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = derp::parse_derp_map(text);
  if (!m) {
    if (m.error().message.empty()) std::abort();
    return 0;
  }
  auto back = derp::parse_derp_map(derp::derp_map_json(*m));
  if (!back || !same(*m, *back)) std::abort();
  for (const auto& [id, r] : m->regions) {
    if (r.nodes.empty() || r.id != id || m->region(id) != &r) std::abort();
    for (const derp::DerpNode* n : r.derp_nodes()) {
      if (n->stun_only || n->derp_url().empty()) std::abort();
    }
    for (const auto& n : r.nodes) {
      if (n.region_id != id || m->node(n.name) == nullptr) std::abort();
      if (!n.effective_stun_port() && !n.stun_endpoints().empty()) std::abort();
    }
    if (!(m->score(id) > 0)) std::abort();
  }
  return 0;
}
