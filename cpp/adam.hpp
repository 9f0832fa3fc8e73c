// Adam: lazy (row-wise: only rows that received a gradient in a batch are updated) and dense.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "common.hpp"

namespace fp {

struct AdamConfig {
    float lr, beta1, beta2, eps;
};

// Gradient scratch for one parameter matrix: the touched rows' gradients packed in the order
// they were first touched (slot k holds row rows[k]), so a batch's gradients sit together in
// memory however scattered its rows are. Slots are zeroed when first used, so only as much
// memory as a batch touches is ever written (a fine-tune on a few rows stays cheap).
struct RowGrad {
    int dim;
    std::vector<int32_t> slot;   // per row: its slot, or -1 if untouched
    std::vector<int32_t> rows;   // per slot: its row

    RowGrad(int64_t n_rows, int d) : dim(d), slot(static_cast<size_t>(n_rows), -1),
                                     grad_(new float[static_cast<size_t>(std::max<int64_t>(n_rows, 1)) * d]) {}

    // Zero the slots in use and forget their rows.
    void clear() {
        std::fill_n(grad_.get(), rows.size() * static_cast<size_t>(dim), 0.0f);
        forget_zeroed();
    }

    // Forget the rows in use, whose slots the caller has zeroed.
    void forget_zeroed() {
        for (const int32_t r : rows) slot[static_cast<size_t>(r)] = -1;
        rows.clear();
    }

    // The gradient of row `r` (a zeroed slot the first time it is asked for).
    float* row(int32_t r) {
        int32_t& s = slot[static_cast<size_t>(r)];
        if (s < 0) {
            s = static_cast<int32_t>(rows.size());
            rows.push_back(r);
            if (static_cast<size_t>(s) >= zeroed_) {
                std::fill_n(at_slot(static_cast<size_t>(s)), dim, 0.0f);
                zeroed_ = static_cast<size_t>(s) + 1;
            }
        }
        return at_slot(static_cast<size_t>(s));
    }

    // The gradient in slot `k` (of row rows[k]).
    float* at_slot(size_t k) { return grad_.get() + k * static_cast<size_t>(dim); }

private:
    std::unique_ptr<float[]> grad_;  // slots of `dim` floats, uninitialised beyond the first zeroed_
    size_t zeroed_ = 0;
};

// Apply Adam at (1-based) step t to the touched rows of `param`, then clear the scratch.
// Rows are independent, so the parallel loop is deterministic.
void adam_apply(RowGrad& g, float* param, float* m, float* v, int64_t t, const AdamConfig& c, int n_threads);

// Apply Adam at (1-based) step t to all n entries of `param` with the dense gradient `g`.
// Entries are independent, so the parallel loop is deterministic.
void adam_dense(const float* g, float* param, float* m, float* v, int64_t n, int64_t t, const AdamConfig& c,
                int n_threads);

}  // namespace fp
