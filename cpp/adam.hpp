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

// Gradient scratch for one parameter matrix: the touched rows' gradients packed in the order
// they were first touched (slot k holds row rows[k]), so a batch's gradients sit together in
// memory however scattered its rows are.
struct RowGrad {
    int dim;
    std::vector<float> grad;     // slots of `dim` floats; the first rows.size() are in use
    std::vector<int32_t> slot;   // per row: its slot, or -1 if untouched
    std::vector<int32_t> rows;   // per slot: its row

    RowGrad(int64_t n_rows, int d) : dim(d), grad(static_cast<size_t>(n_rows) * d, 0.0f),
                                     slot(static_cast<size_t>(n_rows), -1) {}

    // Zero the slots in use and forget their rows.
    void clear() {
        std::fill_n(grad.data(), rows.size() * static_cast<size_t>(dim), 0.0f);
        for (const int32_t r : rows) slot[static_cast<size_t>(r)] = -1;
        rows.clear();
    }

    // The gradient of row `r` (a zeroed slot the first time it is asked for).
    float* row(int32_t r) {
        int32_t& s = slot[static_cast<size_t>(r)];
        if (s < 0) {
            s = static_cast<int32_t>(rows.size());
            rows.push_back(r);
        }
        return grad.data() + static_cast<size_t>(s) * dim;
    }

    // The gradient in slot `k` (of row rows[k]).
    float* at_slot(size_t k) { return grad.data() + k * static_cast<size_t>(dim); }
};

// Apply Adam at (1-based) step t to the touched rows of `param`, then clear the scratch.
// Rows are independent, so the parallel loop is deterministic.
void adam_apply(RowGrad& g, float* param, float* m, float* v, int64_t t, const AdamConfig& c, int n_threads);

}  // namespace fp
