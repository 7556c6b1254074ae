#include "arch/semaphores.h"

namespace npusim::arch {

SemaphoreBank::SemaphoreBank(const Program& program) {
  for (const auto& sem : program.semaphores()) {
    infos_.push_back(&sem);
    counts_.push_back(sem.initial());
    given_ps_.push_back(0);
    events_.emplace_back();
  }
}

}  // namespace npusim::arch
