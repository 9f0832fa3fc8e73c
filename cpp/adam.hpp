// Lazy (row-wise) Adam: only rows that received a gradient in a batch are updated.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "common.hpp"

namespace fp {

struct AdamConfig {
    float lr, beta1, beta2, eps;
};

// Gradient scratch for one parameter matrix: dense rows plus the list of rows touched.
struct RowGrad {
    int dim;
    std::vector<float> grad;
    std::vector<uint8_t> touched;
    std::vector<int32_t> rows;

    RowGrad(int64_t n_rows, int d) : dim(d), grad(static_cast<size_t>(n_rows) * d, 0.0f),
                                     touched(static_cast<size_t>(n_rows), 0) {}

    float* row(int32_t r) {
        if (!touched[r]) {
            touched[r] = 1;
            rows.push_back(r);
        }
        return grad.data() + static_cast<size_t>(r) * dim;
    }
};

// Apply Adam at (1-based) step t to the touched rows of `param`, then clear the scratch.
// Rows are independent, so the parallel loop is deterministic.
inline void adam_apply(RowGrad& g, float* param, float* m, float* v, int64_t t, const AdamConfig& c,
                       int n_threads) {
    const float bc1 = 1.0f - static_cast<float>(std::pow(c.beta1, static_cast<double>(t)));
    const float bc2 = 1.0f - static_cast<float>(std::pow(c.beta2, static_cast<double>(t)));
    const float step = c.lr * std::sqrt(bc2) / bc1;
    const float eps = c.eps * std::sqrt(bc2);
    const int d = g.dim;
    const int64_t n = static_cast<int64_t>(g.rows.size());
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n > 256)
    for (int64_t k = 0; k < n; ++k) {
        const int32_t r = g.rows[static_cast<size_t>(k)];
        const size_t off = static_cast<size_t>(r) * d;
        float* gr = g.grad.data() + off;
        for (int f = 0; f < d; ++f) {
            const float gf = gr[f];
            m[off + f] = c.beta1 * m[off + f] + (1.0f - c.beta1) * gf;
            v[off + f] = c.beta2 * v[off + f] + (1.0f - c.beta2) * gf * gf;
            param[off + f] -= step * m[off + f] / (std::sqrt(v[off + f]) + eps);
            gr[f] = 0.0f;
        }
        g.touched[r] = 0;
    }
    g.rows.clear();
}

}  // namespace fp
