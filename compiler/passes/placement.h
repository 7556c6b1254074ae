// Placement: gives every tensor of the graph a memory and an address in it
// (common/address_space.h: memory i's addresses start at i << 50), aligned.
// Rules place tensor classes and layer ranges into lists of memories, each
// tensor into the first with room left for it (so a class that outgrows a
// memory spills into the next); what no rule matches fills the memories in
// order. A tensor that fits nowhere is an error that says what does not fit
// where, and by how much.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

// The classes a rule matches. MoE experts' parameters (Tensor.expert) are
// Experts, and also match a rule for Weights.
enum class PlaceClass : uint8_t { Weights, KvCache, Activations, Experts };

struct PlacementMemory {
  std::string name;
  uint64_t capacity_bytes = 0;  // 0: unlimited
  std::string capacity_field;   // named in errors ("hbm.yaml: memories[0].capacity_bytes")
};

struct PlacementRule {
  std::vector<PlaceClass> classes;  // empty: all
  std::optional<uint32_t> first_layer, last_layer;
  std::vector<uint32_t> memories;  // indices into PlacementOptions::memories, nearest first
  std::string where;               // named in errors ("system.textproto: placement.rules[0]")
};

struct PlacementOptions {
  // One memory (when `memories` is empty): its capacity (0: unlimited).
  uint64_t capacity_bytes = 0;
  uint64_t alignment = 4096;
  std::string capacity_field = "memory.capacity_bytes";  // named in errors
  std::string graph_where = "graph";  // the graph's file, named in errors about its fields
  // Several memories, nearest first; index i is memory_base(i).
  std::vector<PlacementMemory> memories;
  std::vector<PlacementRule> rules;
  // Cores sharing the memories: every memory in `partitions` equal parts
  // (of an unlimited one, 2^50 / partitions bytes each), the tensors in
  // part `partition`.
  uint32_t partition = 0, partitions = 1;
};

// Returns the bytes used in each memory (the end of its last tensor).
std::vector<uint64_t> place_in_memories(Graph& graph, const PlacementOptions& options);
// One memory: returns the bytes used.
uint64_t place(Graph& graph, const PlacementOptions& options);

[[nodiscard]] const char* place_class_name(PlaceClass c);

}  // namespace npusim::compiler
