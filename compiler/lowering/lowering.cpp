#include "compiler/lowering/lowering.h"

#include <map>

namespace npusim::compiler {
namespace {
struct Entry {
  LowerFn fn;
  OnChipOperands on_chip;
  RingsFn rings;
};
std::map<OpType, Entry>& table() {
  static std::map<OpType, Entry> entries;
  return entries;
}
}  // namespace

bool LoweringRegistry::add(OpType op, LowerFn fn, OnChipOperands on_chip, RingsFn rings) {
  return table().emplace(op, Entry{std::move(fn), on_chip, std::move(rings)}).second;
}

const RingsFn* LoweringRegistry::rings(OpType op) {
  auto it = table().find(op);
  return it == table().end() || !it->second.rings ? nullptr : &it->second.rings;
}

const LowerFn* LoweringRegistry::find(OpType op) {
  auto it = table().find(op);
  return it == table().end() ? nullptr : &it->second.fn;
}

const OnChipOperands* LoweringRegistry::on_chip(OpType op) {
  auto it = table().find(op);
  return it == table().end() ? nullptr : &it->second.on_chip;
}

}  // namespace npusim::compiler
