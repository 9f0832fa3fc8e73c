// RVD kernel: each thread fine-tunes an overlay holding copies of only the rows it writes.
#include "rvd.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "objective.hpp"
#include "sgd_steps.hpp"
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
    FP_INLINE float* write(int64_t r, int64_t step) {
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
            if (lag > 0 && keep_ != 1.0f) {  // no decay: the row is up to date
                const float f = decay(lag);
                for (int c = 0; c < width_; ++c) row[c] *= f;
            }
        }
        last_[s] = step + 1;
        return row;
    }
    // The stored row and the factor that brings it up to date at `step`.
    FP_INLINE const float* read(int64_t r, int64_t step, float& factor) const {
        const int32_t s = slot_[r];
        if (s < 0) {
            factor = base_factor(step);
            return base_ + static_cast<size_t>(r) * width_;
        }
        factor = decay(step - last_[s]);
        return rows_.data() + static_cast<size_t>(s) * width_;
    }
    // Hints that row r is wanted soon: its copy if it has one, else the base row.
    FP_INLINE void prefetch(int64_t r) const {
        const int32_t s = slot_[r];
        prefetch_row(s < 0 ? base_ + static_cast<size_t>(r) * width_ : rows_.data() + static_cast<size_t>(s) * width_,
                     width_);
    }
    // The factor that brings a row never written up to date at `step`.
    FP_INLINE float base_factor(int64_t step) const {
        if (step != memo_step_) {
            memo_step_ = step;
            memo_factor_ = decay(step);
        }
        return memo_factor_;
    }
    void end() {
        for (int64_t r : touched_) slot_[r] = -1;
        touched_.clear();
    }
    // The rows holding copies, in the order they were first written.
    const std::vector<int64_t>& touched() const { return touched_; }

  private:
    FP_INLINE float decay(int64_t steps) const {
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
// number of update steps taken so far. As the Rows of sgd_steps.hpp it hands out rows brought
// up to date at the current step.
struct Tuned {
    const FactorParams& p;
    Overlay A, Q, Bu, Bi;
    int64_t step = 0;

    explicit Tuned(const FactorParams& base)
        : p(base), A(base.A, base.a_rows, base.d), Q(base.Q, base.n_items, base.d),
          Bu(base.bias ? base.bu : nullptr, base.bias ? base.n_users : 0, 1),
          Bi(base.bias ? base.bi : nullptr, base.bias ? base.n_items : 0, 1) {}

    // Capacity for one user's fine-tune and scoring: `users` rows of each array indexed by user,
    // `items` of each indexed by item (A is either: P for MF, Y for NSVD).
    void begin(int64_t users, int64_t items, float keep) {
        step = 0;
        A.begin(std::max(users, items), keep);
        Q.begin(items, keep);
        if (p.bias) {
            Bu.begin(users, keep);
            Bi.begin(items, keep);
        }
    }
    void end() {
        A.end();
        Q.end();
        Bu.end();
        Bi.end();
    }

    FP_INLINE float* a(int64_t r) { return A.write(r, step); }
    FP_INLINE float* q(int32_t i) { return Q.write(i, step); }
    FP_INLINE float* bu(int64_t u) { return Bu.write(u, step); }
    FP_INLINE float* bi(int32_t i) { return Bi.write(i, step); }
    float mu() const { return p.mu; }
    FP_INLINE void prefetch_a(int64_t r) const { A.prefetch(r); }
    FP_INLINE void prefetch_q(int32_t i) const { Q.prefetch(i); }

    // The up-to-date bias terms without copying rows (for scoring every item).
    template <class S>
    FP_INLINE float bias_now(S, int64_t u, int32_t i) const {
        if constexpr (S::bias) {
            float fu, fi;
            const float b = Bu.read(u, step, fu)[0], c = Bi.read(i, step, fi)[0];
            return p.mu + fu * b + fi * c;
        }
        return 0.0f;
    }
};

// RVD's shrink (the Shrink of sgd_steps.hpp): every row by `keep` per step, NSVD's q_i also by
// lr prior_i; no L2 of its own.
struct ForgetShrink {
    float lr, keep_per_step;
    const float* prior;  // NSVD's per-item prior weights; unused by MF

    float keep() const { return keep_per_step; }
    float item_keep(int32_t i) const { return keep_per_step - lr * prior[i]; }
    float bias(float b, float e) const { return keep_per_step * b + lr * e; }
};

// The fine-tune of one model kind, per thread: the steps one pass over the neighbours takes,
// one pass over a neighbour's ratings, and the vector the user's scores are computed from.
// MF: one step per rating, on the squared error; the user's vector is its row of P.
class MfTune {
  public:
    explicit MfTune(int d) : pl_(squared_error_, d, 0, 0) {}
    MfTune(const MfTune&) = delete;  // pl_ refers to this object's squared_error_

    static int64_t steps_per_pass(int64_t ratings, int /*k*/) { return ratings; }

    template <class S>
    FP_INLINE void pass(S, Tuned& t, const ForgetShrink& shrink, const CsrView& r, int64_t v) {
        double sse = 0.0;  // not reported
        for (int64_t x = r.indptr[v]; x < r.indptr[v + 1]; ++x, ++t.step)
            mf_sgd_step(S{}, std::false_type{}, t, shrink, pl_, v, r.indices[x], r.values[x], S::dim(t.p.d), sse);
    }

    template <class S>
    FP_INLINE const float* user(S, Tuned& t, const CsrView& /*r*/, int64_t u) { return t.a(u); }

  private:
    const Objective squared_error_{};
    PairLoss pl_;
};

// NSVD: one step per neighbour with ratings (the model's user-wise step); the user's vector is
// built from the tuned rows of the items it rated.
class NsvdTune {
  public:
    explicit NsvdTune(int d) : pu_(static_cast<size_t>(d)), g_(static_cast<size_t>(d)) {}

    static int64_t steps_per_pass(int64_t /*ratings*/, int k) { return k; }

    template <class S>
    FP_INLINE void pass(S, Tuned& t, const ForgetShrink& shrink, const CsrView& r, int64_t v) {
        if (r.indptr[v] == r.indptr[v + 1]) return;
        double sse = 0.0;  // not reported
        nsvd_sgd_step(S{}, t, shrink, r, v, pu_.data(), g_.data(), S::dim(t.p.d), sse);
        ++t.step;
    }

    template <class S>
    FP_INLINE const float* user(S, Tuned& t, const CsrView& r, int64_t u) {
        std::fill(pu_.begin(), pu_.end(), 0.0f);
        implicit_user(r, u, S::dim(t.p.d), pu_.data(), [&](int32_t j) { return t.a(j); });
        return pu_.data();
    }

  private:
    std::vector<float> pu_, g_;
};

// Scores every item for user u from its tuned vector, masks u's rated items and writes the top_k.
template <class S>
FP_INLINE void tuned_top_k(S, const Tuned& t, const CsrView& r, int64_t u, const float* user_vec, float* scores,
                           int top_k, int32_t* out_items, float* out_scores) {
    const int d = S::dim(t.p.d);
    const int64_t m = t.p.n_items;
    // Every item from the base rows (one decay factor for all rows never written), then the
    // written ones again from their copies: the same value per item as reading each through
    // the overlay, without a lookup per item.
    const auto score = [&](int64_t i, const float* qi, float f) {
        scores[i] = f * dot(user_vec, qi, d) + t.bias_now(S{}, u, static_cast<int32_t>(i));
    };
    const float unwritten = t.Q.base_factor(t.step);
    for (int64_t i = 0; i < m; ++i) score(i, t.p.Q + static_cast<size_t>(i) * d, unwritten);
    for (const int64_t i : t.Q.touched()) {
        float f;
        const float* qi = t.Q.read(i, t.step, f);
        score(i, qi, f);
    }
    for (int64_t x = r.indptr[u]; x < r.indptr[u + 1]; ++x)
        scores[r.indices[x]] = -std::numeric_limits<float>::infinity();
    topk_rows(scores, 1, m, top_k, out_items, out_scores, 1);
}

// One user's fine-tune on its k neighbours `nb` and its top_k (serve's work per user), compiled
// per ISA: the overlay's copies and the model's steps inline into each clone.
template <class Model, class S>
FP_HOT void serve_user(S, Tuned& t, Model& model, const CsrView& r, int64_t u, const int32_t* nb, int k,
                       const RvdConfig& cfg, const float* prior, float* scores, int32_t* out_items,
                       float* out_scores) {
    int64_t ratings = 0;
    for (int j = 0; j < k; ++j) ratings += r.indptr[nb[j] + 1] - r.indptr[nb[j]];
    const int64_t steps = static_cast<int64_t>(cfg.epochs) * Model::steps_per_pass(ratings, k);
    const float keep = steps > 0 ? static_cast<float>(std::pow(static_cast<double>(cfg.forget), 1.0 / steps)) : 1.0f;
    const ForgetShrink shrink{cfg.lr, keep, prior};
    // The user need not be one of its neighbours: room for its own rows too.
    t.begin(k + 1, std::min<int64_t>(t.p.n_items, ratings + r.indptr[u + 1] - r.indptr[u]), keep);
    for (int e = 0; e < cfg.epochs; ++e)
        for (int j = 0; j < k; ++j) model.pass(S{}, t, shrink, r, nb[j]);
    tuned_top_k(S{}, t, r, u, model.user(S{}, t, r, u), scores, cfg.top_k, out_items, out_scores);
    t.end();
}

// mf_rvd_top_k / nsvd_rvd_top_k of rvd.hpp for the model kind `Model` (MfTune or NsvdTune) at
// shape S; `prior` as in ForgetShrink.
template <class Model, class S>
void serve(S, const FactorParams& base, const CsrView& r, const RvdQueries& q, const RvdConfig& cfg,
           const float* prior, int32_t* out_items, float* out_scores, int n_threads) {
#pragma omp parallel num_threads(n_threads)
    {
        Tuned t(base);
        Model model(S::dim(base.d));
        std::vector<float> scores(static_cast<size_t>(base.n_items));
#pragma omp for schedule(dynamic, 4)
        for (int64_t n = 0; n < q.n; ++n)
            serve_user(S{}, t, model, r, q.users[n], q.neighbours + n * q.k, q.k, cfg, prior, scores.data(),
                       out_items + n * cfg.top_k, out_scores + n * cfg.top_k);
    }
}

// serve at the model's compile-time shape.
template <class Model>
void serve_any_shape(const FactorParams& base, const CsrView& train, const RvdQueries& q, const RvdConfig& cfg,
                     const float* prior, int32_t* out_items, float* out_scores, int n_threads) {
    dispatch_shape(base, [&](auto s) {
        serve<Model>(s, base, train, q, cfg, prior, out_items, out_scores, n_threads);
    });
}

}  // namespace

void mf_rvd_top_k(const FactorParams& base, const CsrView& train, const RvdQueries& q, const RvdConfig& cfg,
                  int32_t* out_items, float* out_scores, int n_threads) {
    serve_any_shape<MfTune>(base, train, q, cfg, nullptr, out_items, out_scores, n_threads);
}

void nsvd_rvd_top_k(const FactorParams& base, const CsrView& train, const RvdQueries& q, const RvdConfig& cfg,
                    int32_t* out_items, float* out_scores, int n_threads) {
    const std::vector<float> prior = item_prior(train, base.n_items, base.item_reg);
    serve_any_shape<NsvdTune>(base, train, q, cfg, prior.data(), out_items, out_scores, n_threads);
}

}  // namespace fp
