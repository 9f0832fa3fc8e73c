// LightGCN's propagation (row-parallel SpMM over the bipartite graph), batch loss and epoch.
#include "lightgcn.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace fp {
namespace {

constexpr int64_t kRowsPerTask = 64;  // rows a thread takes at a time (degrees vary widely)
constexpr int64_t kNeighboursAhead = 4;  // neighbour rows prefetched ahead

// For rows r = row(x), x in [lo, hi), of one side (row(x) = only[x], or x when `only` is
// null): s = sum over r's neighbours c of src[c]; out[r] += alpha * norm[r] * s, and
// dst[r] = norm[r]^2 * s unless dst is null.
template <class S>
FP_HOT_WIDE void gather_rows(S, const int64_t* ptr, const int32_t* nbr, const float* norm, const float* src,
                             float* dst, float* out, float alpha, int d_runtime, const int32_t* only, int64_t lo,
                             int64_t hi) {
    const int d = S::dim(d_runtime);
    constexpr int kFixed = S::fixed_dim;
    std::vector<float> scratch(kFixed > 0 ? 0 : static_cast<size_t>(d));
    for (int64_t x = lo; x < hi; ++x) {
        const int64_t r = only == nullptr ? x : only[x];
        const int64_t a = ptr[r], b = ptr[r + 1];
        const float w = norm[r];
        float* o = out + static_cast<size_t>(r) * d;
        float* t = dst == nullptr ? nullptr : dst + static_cast<size_t>(r) * d;
        if constexpr (kFixed > 0) {
            static_assert(kFixed % 16 == 0, "fixed sizes are whole vectors");
            vec16 acc[kFixed / 16];
#pragma GCC unroll 8
            for (int v = 0; v < kFixed / 16; ++v) acc[v] = vec16{};
            for (int64_t k = a; k < b; ++k) {
                if (k + kNeighboursAhead < b) {
                    const float* ahead = src + static_cast<size_t>(nbr[k + kNeighboursAhead]) * kFixed;
#pragma GCC unroll 8
                    for (int f = 0; f < kFixed; f += 16) __builtin_prefetch(ahead + f, 0, 3);
                }
                const float* x = src + static_cast<size_t>(nbr[k]) * kFixed;
#pragma GCC unroll 8
                for (int v = 0; v < kFixed / 16; ++v) acc[v] += load16(x + 16 * v);
            }
            const vec16 wo = splat16(alpha * w), wd = splat16(w * w);
#pragma GCC unroll 8
            for (int v = 0; v < kFixed / 16; ++v) {
                store16(o + 16 * v, load16(o + 16 * v) + wo * acc[v]);
                if (t != nullptr) store16(t + 16 * v, wd * acc[v]);
            }
        } else {
            float* s = scratch.data();
            std::fill_n(s, d, 0.0f);
            for (int64_t k = a; k < b; ++k) scale_add(s, src + static_cast<size_t>(nbr[k]) * d, d, 1.0f, 1.0f);
            scale_add(o, s, d, 1.0f, alpha * w);
            if (t != nullptr)
                for (int f = 0; f < d; ++f) t[f] = w * w * s[f];
        }
    }
}

// gather_rows over `rows` rows of one side (the first `rows`, or the rows listed in `only`),
// in tasks of kRowsPerTask rows.
void gather(const int64_t* ptr, const int32_t* nbr, const float* norm, const float* src, float* dst, float* out,
            float alpha, int d, const int32_t* only, int64_t rows, int threads) {
    const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
    dispatch_dim<false>(d, [&](auto s) {
        if (threads <= 1 || tasks <= 1) {
            gather_rows(s, ptr, nbr, norm, src, dst, out, alpha, d, only, 0, rows);
            return;
        }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int64_t task = 0; task < tasks; ++task)
            gather_rows(s, ptr, nbr, norm, src, dst, out, alpha, d, only, task * kRowsPerTask,
                        std::min(rows, (task + 1) * kRowsPerTask));
    });
}

// The distinct ids of the (ids, n) arrays in increasing order, using `mark` (all 0, left all 0).
void distinct_sorted(std::initializer_list<std::pair<const int32_t*, int64_t>> arrays, std::vector<uint8_t>& mark,
                     std::vector<int32_t>& out) {
    out.clear();
    for (const auto& [ids, n] : arrays)
        for (int64_t k = 0; k < n; ++k) mark[static_cast<size_t>(ids[k])] = 1;
    for (size_t r = 0; r < mark.size(); ++r)
        if (mark[r] != 0) {
            out.push_back(static_cast<int32_t>(r));
            mark[r] = 0;
        }
}

// The CSR of one side: `ptr` (rows + 1) and `nbr` from the pairs (from[k], to[k]), in input
// order within each row; norm[r] = deg(r)^-1/2, 0 for a row without pairs.
void one_side(const int32_t* from, const int32_t* to, int64_t n, int64_t rows, std::vector<int64_t>& ptr,
              std::vector<int32_t>& nbr, std::vector<float>& norm) {
    ptr.assign(static_cast<size_t>(rows) + 1, 0);
    for (int64_t k = 0; k < n; ++k) ++ptr[static_cast<size_t>(from[k]) + 1];
    for (int64_t r = 0; r < rows; ++r) ptr[static_cast<size_t>(r) + 1] += ptr[static_cast<size_t>(r)];
    std::vector<int64_t> next(ptr.begin(), ptr.end() - 1);
    nbr.resize(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) nbr[static_cast<size_t>(next[static_cast<size_t>(from[k])]++)] = to[k];
    norm.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t deg = ptr[static_cast<size_t>(r) + 1] - ptr[static_cast<size_t>(r)];
        norm[static_cast<size_t>(r)] = deg > 0 ? 1.0f / std::sqrt(static_cast<float>(deg)) : 0.0f;
    }
}

}  // namespace

BipartiteGraph::BipartiteGraph(const int32_t* users, const int32_t* items, int64_t n, int64_t n_users_,
                               int64_t n_items_)
    : n_users(n_users_), n_items(n_items_) {
    one_side(users, items, n, n_users, user_ptr, user_items, user_norm);
    one_side(items, users, n, n_items, item_ptr, item_users, item_norm);
}

Propagation::Propagation(const BipartiteGraph& g, int d, int layers, int n_threads)
    : g_(g), d_(d), layers_(layers), threads_(n_threads),
      ping_(static_cast<size_t>(g.n_users + g.n_items) * d), pong_(ping_.size()) {}

void Propagation::mean(const float* src_users, const float* src_items, float* out_users, float* out_items,
                       const RowSubset* last) {
    const size_t d = static_cast<size_t>(d_), user_part = static_cast<size_t>(g_.n_users) * d;
    const float alpha = 1.0f / static_cast<float>(layers_ + 1);
    // Layer 0: out = alpha E_0, ping = D^-1/2 E_0.
    auto start = [&](const float* src, float* out, float* scaled, const std::vector<float>& norm) {
        for (size_t r = 0; r < norm.size(); ++r)
            for (size_t f = 0; f < d; ++f) {
                out[r * d + f] = alpha * src[r * d + f];
                scaled[r * d + f] = norm[r] * src[r * d + f];
            }
    };
    start(src_users, out_users, ping_.data(), g_.user_norm);
    start(src_items, out_items, ping_.data() + user_part, g_.item_norm);
    for (int l = 1; l <= layers_; ++l) {
        const bool final_layer = l == layers_;
        float* next = final_layer ? nullptr : pong_.data();  // the last layer is only summed
        const bool subset = final_layer && last != nullptr;
        gather(g_.user_ptr.data(), g_.user_items.data(), g_.user_norm.data(), ping_.data() + user_part, next,
               out_users, alpha, d_, subset ? last->users.data() : nullptr,
               subset ? static_cast<int64_t>(last->users.size()) : g_.n_users, threads_);
        gather(g_.item_ptr.data(), g_.item_users.data(), g_.item_norm.data(), ping_.data(),
               next == nullptr ? nullptr : next + user_part, out_items, alpha, d_,
               subset ? last->items.data() : nullptr,
               subset ? static_cast<int64_t>(last->items.size()) : g_.n_items, threads_);
        ping_.swap(pong_);
    }
}

LightGcnLoss::LightGcnLoss(const BipartiteGraph& g, int d, int layers, int n_threads)
    : prop_(g, d, layers, n_threads), n_users_(g.n_users), d_(d),
      f_(static_cast<size_t>(g.n_users + g.n_items) * d), g_(f_.size()),
      user_mark_(static_cast<size_t>(g.n_users)), item_mark_(static_cast<size_t>(g.n_items)) {}

double LightGcnLoss::loss_grad(const Embeddings& ego, const Triples& t, float reg, const Embeddings& grad) {
    const size_t d = static_cast<size_t>(d_), user_part = static_cast<size_t>(n_users_) * d;
    float *fu = f_.data(), *fi = f_.data() + user_part, *gu = g_.data(), *gi = g_.data() + user_part;
    // Only the batch's rows of f are read: the last layer is summed for them alone.
    distinct_sorted({{t.users, t.n}}, user_mark_, batch_rows_.users);
    distinct_sorted({{t.pos, t.n}, {t.neg, t.n}}, item_mark_, batch_rows_.items);
    prop_.mean(ego.users, ego.items, fu, fi, &batch_rows_);
    std::fill(g_.begin(), g_.end(), 0.0f);
    const float scale = t.n > 0 ? 1.0f / static_cast<float>(t.n) : 0.0f, rs = reg * scale;
    double loss = 0.0;
    for (int64_t k = 0; k < t.n; ++k) {
        const size_t u = static_cast<size_t>(t.users[k]) * d, i = static_cast<size_t>(t.pos[k]) * d,
                     j = static_cast<size_t>(t.neg[k]) * d;
        loss += triple_grad(fu + u, fi + i, fi + j, d_, scale, 0.0f, gu + u, gi + i, gi + j);
    }
    prop_.mean(gu, gi, grad.users, grad.items);
    for (int64_t k = 0; k < t.n; ++k) {
        const size_t u = static_cast<size_t>(t.users[k]) * d, i = static_cast<size_t>(t.pos[k]) * d,
                     j = static_cast<size_t>(t.neg[k]) * d;
        scale_add(grad.users + u, ego.users + u, d_, 1.0f, rs);
        scale_add(grad.items + i, ego.items + i, d_, 1.0f, rs);
        scale_add(grad.items + j, ego.items + j, d_, 1.0f, rs);
    }
    return loss;
}

double lightgcn_loss_grad(const BipartiteGraph& g, int d, int layers, const Embeddings& ego, const Triples& t,
                          float reg, const Embeddings& grad) {
    const double loss = LightGcnLoss(g, d, layers, 1).loss_grad(ego, t, reg, grad);
    if (t.n == 0) return 0.0;
    double l2 = 0.0;
    for (int64_t k = 0; k < t.n; ++k)
        for (const float* row : {ego.users + static_cast<size_t>(t.users[k]) * d,
                                 ego.items + static_cast<size_t>(t.pos[k]) * d,
                                 ego.items + static_cast<size_t>(t.neg[k]) * d})
            l2 += dot(row, row, d);
    return (loss + 0.5 * reg * l2) / static_cast<double>(t.n);
}

double lightgcn_adam_epoch(const BipartiteGraph& graph, const Embeddings& ego, const Embeddings& m,
                           const Embeddings& v, int d, int layers, const Interactions& x, int64_t batch, float reg,
                           const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed) {
    const int threads = clamp_threads(n_threads);
    const int64_t n_users = graph.n_users, n_items = graph.n_items;
    LightGcnLoss objective(graph, d, layers, threads);
    std::vector<int32_t> users, items;
    epoch_positives(x, n_items, seed, users, items);
    const int64_t n = static_cast<int64_t>(users.size());
    Rng rng = Rng::stream(seed, 0x1C6);
    const SeenItems seen(x.seen, n_items);
    std::vector<float> grad_users(static_cast<size_t>(n_users) * d), grad_items(static_cast<size_t>(n_items) * d);
    const Embeddings grad{grad_users.data(), grad_items.data()};
    std::vector<int32_t> negatives(static_cast<size_t>(std::min(batch, std::max<int64_t>(n, 1))));
    double loss = 0.0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
        const int64_t b1 = std::min(n, b0 + batch);
        for (int64_t k = b0; k < b1; ++k)
            negatives[static_cast<size_t>(k - b0)] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(n_items)));
        for (int64_t k = b0; k < b1; ++k) {
            int32_t& j = negatives[static_cast<size_t>(k - b0)];
            j = negative_of(j, rng, seen, users[static_cast<size_t>(k)], n_items);
        }
        loss += objective.loss_grad(ego, Triples{users.data() + b0, items.data() + b0, negatives.data(), b1 - b0},
                                    reg, grad);
        ++step;
        adam_dense(grad.users, ego.users, m.users, v.users, n_users * d, step, cfg, threads);
        adam_dense(grad.items, ego.items, m.items, v.items, n_items * d, step, cfg, threads);
    }
    return loss;
}

}  // namespace fp
