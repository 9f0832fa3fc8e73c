// Float arrays in memory the kernel is asked to back with 2 MB pages.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

namespace fp {

// A zeroed array of n floats, 2 MB-aligned and advised as huge pages. The advice is a hint:
// where transparent huge pages are off it is ordinary memory. Rows read at random across a
// few MB (LightGCN's propagation) then miss the TLB far less.
class HugePageFloats {
public:
    explicit HugePageFloats(size_t n) : n_(n) {
        constexpr size_t kHuge = size_t{2} << 20;
        const size_t bytes = std::max(kHuge, (n * sizeof(float) + kHuge - 1) / kHuge * kHuge);
        void* raw = std::aligned_alloc(kHuge, bytes);
        if (raw == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
        madvise(raw, bytes, MADV_HUGEPAGE);
#endif
        std::memset(raw, 0, bytes);
        p_.reset(static_cast<float*>(raw));
    }
    float* data() { return p_.get(); }
    size_t size() const { return n_; }
    void swap(HugePageFloats& other) noexcept {
        p_.swap(other.p_);
        std::swap(n_, other.n_);
    }

private:
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> p_;
    size_t n_;
};

}  // namespace fp
