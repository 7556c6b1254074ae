#include "memory/memory_model.h"

namespace npusim::memory {

MemoryModel::MemoryModel(const sc_core::sc_module_name& name)
    : sc_core::sc_module(name), socket("socket") {
  socket.register_b_transport(this, &MemoryModel::dispatch);
}

void MemoryModel::count(const tlm::tlm_generic_payload& trans) {
  ++stats_.transactions;
  if (trans.is_read()) {
    stats_.read_bytes += trans.get_data_length();
  } else {
    stats_.write_bytes += trans.get_data_length();
  }
}

}  // namespace npusim::memory
