// Lazy (row-wise) Adam: only rows that received a gradient in a batch are updated.
#pragma once

#include <algorithm>
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

    // Zero the touched rows and forget them.
    void clear() {
        for (const int32_t r : rows) {
            std::fill_n(grad.data() + static_cast<size_t>(r) * dim, dim, 0.0f);
            touched[static_cast<size_t>(r)] = 0;
        }
        rows.clear();
    }

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
void adam_apply(RowGrad& g, float* param, float* m, float* v, int64_t t, const AdamConfig& c, int n_threads);

}  // namespace fp
