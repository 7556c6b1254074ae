// Checks a graph before the passes and the lowering read it: every frontend's
// output (an npusim graph file, an ONNX import, a config.json model) goes
// through check_graph, so the lowering can take shapes, dtypes and the node
// order as given.
#pragma once

#include <cstdint>
#include <string>

#include "compiler/graph.pb.h"

namespace npusim::compiler {

// The most elements one tensor may have (2^40: 2 TB in fp16) and the most
// dimensions.
inline constexpr uint64_t kMaxTensorElements = uint64_t{1} << 40;
inline constexpr int kMaxRank = 8;

// Throws UserError "<where>: <tensor or node>: <constraint>" unless:
//  - the graph has nodes; tensor and node names are non-empty and unique;
//  - every tensor has a dtype, a class and 1 to kMaxRank dimensions, each
//    >= 1, at most kMaxTensorElements elements, size_bytes that match its
//    shape and dtype (filled in when 0, i.e. absent), and an alias_of (if any) naming an earlier
//    tensor of its size;
//  - every node's op has a lowering; its inputs and outputs name tensors;
//    no parameter is computed and no tensor computed twice; the nodes are in
//    execution order (a node reads nothing a later node or itself computes,
//    but KV_APPEND, which updates its cache in place), so there is no cycle;
//  - every node's operands have the arity, shapes and attributes its op
//    needs (graph.proto's OpType comments).
void check_graph(Graph& graph, const std::string& where);

}  // namespace npusim::compiler
