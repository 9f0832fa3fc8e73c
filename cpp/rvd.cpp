// RVD kernel: each thread fine-tunes an overlay holding copies of only the rows it writes.
#include "rvd.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "simd.hpp"
#include "topk.hpp"

namespace fp {
namespace {

// Copy-on-write rows over a read-only parameter array, with lazy L2 decay: the fine-tune
// shrinks *every* row by `keep` per step (the full model's L2), but a row is only rescaled
// when it is written (and once more when read for scoring). Capacity is fixed by `begin`, so
// row pointers stay valid while one user is processed; `end` forgets the copies.
class Overlay {
  public:
    Overlay(const float* base, int64_t n_rows, int width) : base_(base), width_(width), slot_(n_rows, -1) {}

    void begin(int64_t max_rows, float keep) {
        if (rows_.size() < static_cast<size_t>(max_rows) * width_) {
            rows_.resize(static_cast<size_t>(max_rows) * width_);
            last_.resize(static_cast<size_t>(max_rows));
        }
        keep_ = keep;
        memo_step_ = -1;
    }
    // Row r brought up to date at `step`; the caller applies step's own decay in its update.
    float* write(int64_t r, int64_t step) {
        int32_t& s = slot_[r];
        float* row;
        if (s < 0) {
            s = static_cast<int32_t>(touched_.size());
            touched_.push_back(r);
            row = rows_.data() + static_cast<size_t>(s) * width_;
            const float f = decay(step);
            for (int c = 0; c < width_; ++c) row[c] = f * base_[static_cast<size_t>(r) * width_ + c];
        } else {
            row = rows_.data() + static_cast<size_t>(s) * width_;
            const int64_t lag = step - last_[s];
            if (lag > 0) {
                const float f = decay(lag);
                for (int c = 0; c < width_; ++c) row[c] *= f;
            }
        }
        last_[s] = step + 1;
        return row;
    }
    // The stored row and the factor that brings it up to date at `step`.
    const float* read(int64_t r, int64_t step, float& factor) const {
        const int32_t s = slot_[r];
        if (s < 0) {
            if (step != memo_step_) {
                memo_step_ = step;
                memo_factor_ = decay(step);
            }
            factor = memo_factor_;
            return base_ + static_cast<size_t>(r) * width_;
        }
        factor = decay(step - last_[s]);
        return rows_.data() + static_cast<size_t>(s) * width_;
    }
    void end() {
        for (int64_t r : touched_) slot_[r] = -1;
        touched_.clear();
    }

  private:
    float decay(int64_t steps) const {
        return steps <= 0 || keep_ == 1.0f ? 1.0f : static_cast<float>(std::pow(static_cast<double>(keep_), steps));
    }

    const float* base_;
    int width_;
    float keep_ = 1.0f;
    mutable int64_t memo_step_ = -1;  // decay of untouched rows, cached per step
    mutable float memo_factor_ = 1.0f;
    std::vector<int32_t> slot_;
    std::vector<float> rows_;
    std::vector<int64_t> last_;
    std::vector<int64_t> touched_;
};

// One thread's tuned view of the model: overlays of A (P or Y), Q and the biases, and the
// number of update steps taken so far.
struct Tuned {
    const FactorParams& p;
    Overlay A, Q, bu, bi;
    int64_t step = 0;

    explicit Tuned(const FactorParams& base)
        : p(base), A(base.A, base.a_rows, base.d), Q(base.Q, base.n_items, base.d),
          bu(base.bias ? base.bu : nullptr, base.bias ? base.n_users : 0, 1),
          bi(base.bias ? base.bi : nullptr, base.bias ? base.n_items : 0, 1) {}

    void begin(int64_t users, int64_t items, float keep) {
        step = 0;
        A.begin(std::max(users, items), keep);
        Q.begin(items, keep);
        if (p.bias) {
            bu.begin(users, keep);
            bi.begin(items, keep);
        }
    }
    void end() {
        A.end();
        Q.end();
        bu.end();
        bi.end();
    }

    template <class S>
    float bias_of(S, int64_t u, int32_t i) {
        if constexpr (S::bias) return p.mu + bu.write(u, step)[0] + bi.write(i, step)[0];
        return 0.0f;
    }
    // The up-to-date bias terms without copying rows (for scoring every item).
    template <class S>
    float bias_now(S, int64_t u, int32_t i) const {
        if constexpr (S::bias) {
            float fu, fi;
            const float b = bu.read(u, step, fu)[0], c = bi.read(i, step, fi)[0];
            return p.mu + fu * b + fi * c;
        }
        return 0.0f;
    }
    template <class S>
    void bias_step(S, int64_t u, int32_t i, float lr, float keep, float e) {
        if constexpr (S::bias) {
            float* b = bu.write(u, step);
            float* c = bi.write(i, step);
            b[0] = keep * b[0] + lr * e;
            c[0] = keep * c[0] + lr * e;
        }
    }
};

// One SGD pass of MF over user v's ratings.
template <class S>
void tune_mf_user(S, Tuned& t, const CsrView& r, int64_t v, float lr, float keep) {
    const int d = S::dim(t.p.d);
    for (int64_t x = r.indptr[v]; x < r.indptr[v + 1]; ++x) {
        const int32_t i = r.indices[x];
        float* pv = t.A.write(v, t.step);
        float* qi = t.Q.write(i, t.step);
        const float e = r.values[x] - (dot(pv, qi, d) + t.bias_of(S{}, v, i));
        t.bias_step(S{}, v, i, lr, keep, e);
        coupled_step(pv, qi, d, keep, keep, lr * e);
        ++t.step;
    }
}

// One SGD pass of NSVD over user v's ratings (the model's own user-wise step).
template <class S>
void tune_nsvd_user(S, Tuned& t, const CsrView& r, int64_t v, float lr, float keep, const float* prior, float* pv,
                    float* g) {
    const int d = S::dim(t.p.d);
    const float norm = implicit_user(r, v, d, pv, [&](int32_t j) { return t.A.write(j, t.step); });
    if (norm == 0.0f) return;
    std::fill(g, g + d, 0.0f);
    for (int64_t x = r.indptr[v]; x < r.indptr[v + 1]; ++x) {
        const int32_t i = r.indices[x];
        float* qi = t.Q.write(i, t.step);
        const float e = r.values[x] - (dot(pv, qi, d) + t.bias_of(S{}, v, i));
        t.bias_step(S{}, v, i, lr, keep, e);
        scale_add(g, qi, d, 1.0f, e);
        scale_add(qi, pv, d, keep - lr * prior[i], lr * e);
    }
    for (int64_t x = r.indptr[v]; x < r.indptr[v + 1]; ++x)
        scale_add(t.A.write(r.indices[x], t.step), g, d, keep, lr * norm);
    ++t.step;
}

template <class S>
void serve(S, const FactorParams& base, bool nsvd, const CsrView& r, const RvdQueries& q, const RvdConfig& cfg,
           const float* prior, int32_t* out_items, float* out_scores, int n_threads) {
    const int d = S::dim(base.d);
    const int64_t m = base.n_items;
#pragma omp parallel num_threads(n_threads)
    {
        Tuned t(base);
        std::vector<float> scores(static_cast<size_t>(m)), pu(static_cast<size_t>(d)), g(static_cast<size_t>(d));
#pragma omp for schedule(dynamic, 4)
        for (int64_t n = 0; n < q.n; ++n) {
            const int32_t* nb = q.neighbours + n * q.k;
            int64_t ratings = 0;
            for (int j = 0; j < q.k; ++j) ratings += r.indptr[nb[j] + 1] - r.indptr[nb[j]];
            const int64_t items = std::min<int64_t>(m, ratings);
            const int64_t steps = static_cast<int64_t>(cfg.epochs) * (nsvd ? q.k : ratings);
            const float keep =
                steps > 0 ? static_cast<float>(std::pow(static_cast<double>(cfg.forget), 1.0 / steps)) : 1.0f;
            t.begin(q.k, items, keep);
            for (int e = 0; e < cfg.epochs; ++e)
                for (int j = 0; j < q.k; ++j) {
                    if (nsvd)
                        tune_nsvd_user(S{}, t, r, nb[j], cfg.lr, keep, prior, pu.data(), g.data());
                    else
                        tune_mf_user(S{}, t, r, nb[j], cfg.lr, keep);
                }
            const int64_t u = q.users[n];
            const float* user_vec;
            if (nsvd) {
                std::fill(pu.begin(), pu.end(), 0.0f);
                implicit_user(r, u, d, pu.data(), [&](int32_t j) { return t.A.write(j, t.step); });
                user_vec = pu.data();
            } else {
                user_vec = t.A.write(u, t.step);
            }
            float f;
            for (int64_t i = 0; i < m; ++i) {
                const float* qi = t.Q.read(i, t.step, f);
                scores[i] = f * dot(user_vec, qi, d) + t.bias_now(S{}, u, static_cast<int32_t>(i));
            }
            for (int64_t x = r.indptr[u]; x < r.indptr[u + 1]; ++x)
                scores[r.indices[x]] = -std::numeric_limits<float>::infinity();
            topk_rows(scores.data(), 1, m, cfg.top_k, out_items + n * cfg.top_k, out_scores + n * cfg.top_k, 1);
            t.end();
        }
    }
}

}  // namespace

void rvd_top_k(const FactorParams& base, bool nsvd, const CsrView& train, const RvdQueries& q,
               const RvdConfig& cfg, int32_t* out_items, float* out_scores, int n_threads) {
    const std::vector<float> prior = item_prior(train, base.n_items, nsvd ? base.item_reg : 0.0f);
    dispatch_shape(base, [&](auto s) {
        serve(s, base, nsvd, train, q, cfg, prior.data(), out_items, out_scores, n_threads);
    });
}

}  // namespace fp
