// npusim disasm: print a program one instruction per line.
#include <fmt/format.h>

#include "sim/cli/options.h"

namespace npusim::cli {
namespace {

std::string sems(const Program& p, const google::protobuf::RepeatedPtrField<SemOp>& ops) {
  std::string out;
  for (const auto& op : ops) {
    const std::string name = op.sem() < static_cast<uint32_t>(p.semaphores_size())
                                 ? p.semaphores(static_cast<int>(op.sem())).name()
                                 : fmt::format("#{}", op.sem());
    out += fmt::format(" {}{}", name, op.count() == 1 ? "" : fmt::format("x{}", op.count()));
  }
  return out;
}

std::string body(const Program& p, const Instruction& ins) {
  if (ins.has_dma()) {
    const auto& d = ins.dma();
    const std::string tensor = d.tensor() < static_cast<uint32_t>(p.tensors_size())
                                   ? p.tensors(static_cast<int>(d.tensor())).name()
                                   : "?";
    const std::string shape = d.rows() == 1 ? fmt::format("{} B", d.row_bytes())
                                            : fmt::format("{} x {} B stride {}", d.rows(),
                                                          d.row_bytes(), d.dram_stride());
    return fmt::format("{:<5} {:<10} {} {} 0x{:x} {} spm 0x{:x}  {}{}",
                       d.direction() == DmaOp::LOAD ? "load" : "store",
                       TensorClass_Name(d.tensor_class()), tensor,
                       d.direction() == DmaOp::LOAD ? "@" : "->", d.dram_addr(),
                       d.direction() == DmaOp::LOAD ? "->" : "<-", d.spm_addr(), shape,
                       d.fence() ? "  fence" : "");
  }
  if (ins.has_pim()) {
    const auto& g = ins.pim();
    const std::string tensor = g.tensor() < static_cast<uint32_t>(p.tensors_size())
                                   ? p.tensors(static_cast<int>(g.tensor())).name()
                                   : "?";
    return fmt::format("pim   gemv {}x{} x{} {} {} @ 0x{:x} in=0x{:x} out=0x{:x}", g.out_rows(),
                       g.in_cols(), g.vectors(), DType_Name(g.dtype()), tensor, g.dram_addr(),
                       g.spm_in(), g.spm_out());
  }
  if (ins.has_matrix()) {
    const auto& m = ins.matrix();
    return fmt::format("gemm  {}x{}x{} {} {}{} a=0x{:x} b=0x{:x} out=0x{:x}", m.m(), m.k(), m.n(),
                       Dataflow_Name(m.dataflow()), DType_Name(m.dtype()),
                       m.accumulate() ? " acc" : "", m.spm_a(), m.spm_b(), m.spm_out());
  }
  const auto& v = ins.vector();
  return fmt::format("{:<10} len {} row {} {} in=0x{:x} out=0x{:x}", VectorKind_Name(v.kind()),
                     v.length(), v.row_length(), DType_Name(v.dtype()), v.spm_in(), v.spm_out());
}

void queue(const Program& p, const char* name,
           const google::protobuf::RepeatedPtrField<Instruction>& instructions) {
  fmt::print("{} queue ({} instructions)\n", name, instructions.size());
  for (int i = 0; i < instructions.size(); ++i) {
    const auto& ins = instructions.Get(i);
    const std::string node = ins.node() < static_cast<uint32_t>(p.nodes_size())
                                 ? p.nodes(static_cast<int>(ins.node()))
                                 : "";
    fmt::print("  {:>6}  {:<72} [{}]", i, body(p, ins), node);
    if (ins.wait_size() > 0) fmt::print("  wait{}", sems(p, ins.wait()));
    if (ins.signal_size() > 0) fmt::print("  signal{}", sems(p, ins.signal()));
    fmt::print("\n");
  }
}

int disasm(const std::vector<std::string>& argv) {
  Args args("disasm", argv);
  std::vector<std::string> files;
  args.positional("PROGRAM", &files, 1, 1, "program file (.textproto or binary .pb)");
  if (!args.parse()) return 0;
  Program p;
  load_program(files[0], &p);
  fmt::print("program '{}': {} semaphores, {} tensors, {} cores\n", p.name(), p.semaphores_size(),
             p.tensors_size(), p.cores_size());
  for (int c = 0; c < p.cores_size(); ++c) {
    fmt::print("core {}\n", c);
    queue(p, "dma", p.cores(c).dma());
    queue(p, "matrix", p.cores(c).matrix());
    queue(p, "vector", p.cores(c).vector());
  }
  return 0;
}

}  // namespace

NPUSIM_REGISTER_COMMAND(disasm, "print a program readably, one instruction per line", disasm);

}  // namespace npusim::cli
