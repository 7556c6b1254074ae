#include "arch/semaphores.h"

namespace npusim::arch {

SemaphoreBank::SemaphoreBank(const Program& program) {
  for (const auto& sem : program.semaphores()) {
    infos_.push_back(&sem);
    counts_.push_back(sem.initial());
    events_.emplace_back();
  }
}

}  // namespace npusim::arch
