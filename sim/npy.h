// NumPy .npy files: arrays given to and written by functional mode
// (npusim run --functional --input/--expect/--output-npy).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace npusim::sim {

struct NpyArray {
  std::vector<uint64_t> shape;
  std::vector<float> values;  // C order
  std::string descr;          // as stored: '<f2', '<f4', '<i8', ...
};

// Reads a C-order array of float (2, 4, 8 bytes), signed or unsigned
// integers (1 to 8 bytes) or bools. UserError naming the file and what is
// wrong with it: not .npy, a header it cannot read, Fortran order, a type it
// does not take, data shorter or longer than the shape says, a value that is
// NaN or infinite, or an integer a float cannot hold exactly.
[[nodiscard]] NpyArray load_npy(const std::string& path);

// Writes `values` (C order) as float32 with `shape`, whole or not at all
// (OutputFile); `option` names the flag in errors.
void save_npy(const std::string& path, const std::string& option,
              const std::vector<uint64_t>& shape, const std::vector<float>& values);

}  // namespace npusim::sim
