// Heap objects for glue that must not depend on the C++ runtime (no operator new/delete, no
// exceptions): malloc plus placement new, and the matching explicit destroy.
#ifndef LKL_LIB_HEAP_H
#define LKL_LIB_HEAP_H

#include <cstdlib>
#include <new>
#include <utility>

namespace lkl {

// A T constructed in malloc'ed memory aligned for T, or nullptr if there is no memory.
template <typename T, typename... Args>
T *heap_new(Args &&...args) noexcept {
  constexpr std::size_t align = alignof(T) < sizeof(void *) ? sizeof(void *) : alignof(T);
  const std::size_t size = (sizeof(T) + align - 1) / align * align;
  void *mem = std::aligned_alloc(align, size);
  return mem ? ::new (mem) T(std::forward<Args>(args)...) : nullptr;
}

template <typename T>
void heap_delete(T *obj) noexcept {
  if (obj) {
    obj->~T();
    std::free(obj);
  }
}

}  // namespace lkl

#endif  // LKL_LIB_HEAP_H
