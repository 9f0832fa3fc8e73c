// Row helpers for the per-rating hot loops, written with GCC/Clang vector extensions so that
// each FP_HOT clone compiles them for its own ISA (8-wide AVX2+FMA in the x86-64-v3 clone,
// SSE pairs in the baseline). They are always inlined: called with a compile-time `d` (see
// Shape in factor_models.hpp) their loops unroll completely, and no vector value crosses a
// call (which is why the build silences GCC's -Wpsabi note about AVX vector returns).
#pragma once

#if !defined(__GNUC__) && !defined(__clang__)
#error "fastpoison's kernels need GCC or Clang (vector extensions)"
#endif

#define FP_INLINE inline __attribute__((always_inline))

namespace fp {

// Eight floats; aligned(4) makes loads and stores through it legal at any float address.
typedef float vec8 __attribute__((vector_size(32), aligned(4)));

FP_INLINE vec8 load8(const float* p) { return *reinterpret_cast<const vec8*>(p); }
FP_INLINE void store8(float* p, vec8 v) { *reinterpret_cast<vec8*>(p) = v; }
FP_INLINE vec8 splat8(float x) { return vec8{x, x, x, x, x, x, x, x}; }

// Sixteen floats: one register in an FP_HOT_WIDE function's AVX-512 clone, two or four in
// the others (the same arithmetic lane by lane, so the same results).
typedef float vec16 __attribute__((vector_size(64), aligned(4)));

FP_INLINE vec16 load16(const float* p) { return *reinterpret_cast<const vec16*>(p); }
FP_INLINE void store16(float* p, vec16 v) { *reinterpret_cast<vec16*>(p) = v; }
FP_INLINE vec16 splat16(float x) { return vec16{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

// a . b with four independent accumulators (the add chain, not the FMA unit, is the limit).
FP_INLINE float dot(const float* a, const float* b, int d) {
    vec8 s0{}, s1{}, s2{}, s3{};
    int f = 0;
#pragma GCC unroll 8
    for (; f + 32 <= d; f += 32) {
        s0 += load8(a + f) * load8(b + f);
        s1 += load8(a + f + 8) * load8(b + f + 8);
        s2 += load8(a + f + 16) * load8(b + f + 16);
        s3 += load8(a + f + 24) * load8(b + f + 24);
    }
    for (; f + 8 <= d; f += 8) s0 += load8(a + f) * load8(b + f);
    const vec8 s = (s0 + s1) + (s2 + s3);
    float total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; f < d; ++f) total += a[f] * b[f];
    return total;
}

// The coupled SGD step of a factor pair: a <- keep_a*a + step*b, b <- keep_b*b + step*a (old values).
FP_INLINE void coupled_step(float* a, float* b, int d, float keep_a, float keep_b, float step) {
    const vec8 ka = splat8(keep_a), kb = splat8(keep_b), s = splat8(step);
    int f = 0;
#pragma GCC unroll 16
    for (; f + 8 <= d; f += 8) {
        const vec8 x = load8(a + f), y = load8(b + f);
        store8(a + f, ka * x + s * y);
        store8(b + f, kb * y + s * x);
    }
    for (; f < d; ++f) {
        const float x = a[f], y = b[f];
        a[f] = keep_a * x + step * y;
        b[f] = keep_b * y + step * x;
    }
}

// y <- keep*y + a*x
FP_INLINE void scale_add(float* y, const float* x, int d, float keep, float a) {
    const vec8 k = splat8(keep), s = splat8(a);
    int f = 0;
#pragma GCC unroll 16
    for (; f + 8 <= d; f += 8) store8(y + f, k * load8(y + f) + s * load8(x + f));
    for (; f < d; ++f) y[f] = keep * y[f] + a * x[f];
}

// g <- g + a*x + b*y
FP_INLINE void add_scaled_pair(float* g, const float* x, const float* y, int d, float a, float b) {
    const vec8 va = splat8(a), vb = splat8(b);
    int f = 0;
#pragma GCC unroll 16
    for (; f + 8 <= d; f += 8) store8(g + f, load8(g + f) + va * load8(x + f) + vb * load8(y + f));
    for (; f < d; ++f) g[f] += a * x[f] + b * y[f];
}

}  // namespace fp
