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

// A zeroed array of n floats; from 1 MB up, 2 MB-aligned and advised as huge pages. The
// advice is a hint: where transparent huge pages are off it is ordinary memory. Rows read at
// random across a few MB (LightGCN's propagation) then miss the TLB far less. Smaller arrays
// (RVD's neighbourhood graphs, built afresh every epoch) are plain zeroed memory: a huge
// page would cost them a 2 MB clear each time for little TLB gain.
class HugePageFloats {
public:
    explicit HugePageFloats(size_t n) : n_(n) {
        constexpr size_t kHuge = size_t{2} << 20, kHugeFrom = size_t{1} << 20;
        const size_t bytes = std::max<size_t>(n, 1) * sizeof(float);
        void* raw;
        if (bytes < kHugeFrom) {
            raw = std::calloc(bytes, 1);
        } else {
            const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
            raw = std::aligned_alloc(kHuge, rounded);
            if (raw != nullptr) {
#ifdef MADV_HUGEPAGE
                madvise(raw, rounded, MADV_HUGEPAGE);
#endif
                std::memset(raw, 0, rounded);
            }
        }
        if (raw == nullptr) throw std::bad_alloc();
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
