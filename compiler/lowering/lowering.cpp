#include "compiler/lowering/lowering.h"

#include <map>

namespace npusim::compiler {
namespace {
std::map<OpType, LowerFn>& table() {
  static std::map<OpType, LowerFn> entries;
  return entries;
}
}  // namespace

bool LoweringRegistry::add(OpType op, LowerFn fn) {
  return table().emplace(op, std::move(fn)).second;
}

const LowerFn* LoweringRegistry::find(OpType op) {
  auto it = table().find(op);
  return it == table().end() ? nullptr : &it->second;
}

}  // namespace npusim::compiler
