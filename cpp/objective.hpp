// The robust objectives of MF training (the training-time defenses APR / AT / RAT and RMF).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "common.hpp"
#include "simd.hpp"

namespace fp {

enum class Perturbation : int { none = 0, adversarial = 1, random = 2, adversarial_rows = 3 };

// How each rating's error e = r_hat - r enters MF training: the loss is
// rho(e) + weight * rho(e_pert). rho is Huber's function with threshold `huber` (infinity:
// the squared error). e_pert is the error after perturbing p_u and q_i:
// - adversarial: each by a vector of norm `size` in the direction that increases this
//   rating's squared error fastest (the fast-gradient step of APR / AT, taken per rating);
// - random: by vectors of independent normal entries with std `size`, redrawn beyond two std
//   (truncated normal, RAT), fresh for every rating;
// - adversarial_rows (Adam only): by the rows of perturbation matrices set for each mini-batch to
//   `size` times the row-normalised gradient of the batch's squared error (APR as He et al.: one
//   fast-gradient perturbation per embedding row; the caller hands each rating's rows to
//   PairLoss::set_rows).
// `frobenius` (Adam only) replaces the mean of a mini-batch's rho(e) by the Frobenius norm of its
// residuals, sqrt(sum e^2) (RMF as the RVD paper's appendix C): each rating's gradient is scaled
// by 1 / (2 sqrt(sum e^2)) of its batch instead of 1 / batch size (see mf_adam_epoch).
struct Objective {
    float huber = std::numeric_limits<float>::infinity();
    Perturbation perturbation = Perturbation::none;
    float size = 0.0f;
    float weight = 0.0f;
    bool frobenius = false;

    bool squared_error() const {
        return std::isinf(huber) && (perturbation == Perturbation::none || size <= 0.0f || weight <= 0.0f);
    }
};

// Calls f(std::false_type{}) for the plain squared error (a kernel instance without the
// robust terms, as fast as before they existed), else f(std::true_type{}).
template <class F>
decltype(auto) dispatch_objective(const Objective& o, F&& f) {
    return o.squared_error() ? f(std::false_type{}) : f(std::true_type{});
}

// Half the gradient of one rating's loss: d/dp_u = 2(a q_i + b_u p_u + c delta_i),
// d/dq_i = 2(a p_u + b_i q_i + c delta_u), d/db_u = d/db_i = 2a, with delta_u, delta_i the
// random perturbation (c = 0 otherwise). Plain squared error: a = e, the rest 0.
struct PairGrad {
    float a, b_u, b_i, c;
};

// Evaluates PairGrad for one kernel call (one thread); owns the random stream and the
// random perturbation vectors of the current rating.
class PairLoss {
  public:
    // `stream` tells apart the PairLoss objects of one kernel call (threads).
    PairLoss(const Objective& o, int d, uint64_t seed, uint64_t stream)
        : o_(o), rng_(Rng::stream(seed, stream)), du_(static_cast<size_t>(d)), di_(static_cast<size_t>(d)) {}

    const float* delta_u() const { return du_.data(); }
    const float* delta_i() const { return di_.data(); }

    template <class Robust>
    FP_INLINE PairGrad grad(Robust, const float* pu, const float* qi, float e, int d) {
        if constexpr (!Robust::value) return {e, 0.0f, 0.0f, 0.0f};
        const float a = clip(e);
        if (o_.weight <= 0.0f || o_.size <= 0.0f) return {a, 0.0f, 0.0f, 0.0f};
        if (o_.perturbation == Perturbation::adversarial) return adversarial(pu, qi, e, a, d);
        if (o_.perturbation == Perturbation::random) {
            for (int f = 0; f < d; ++f) {
                du_[static_cast<size_t>(f)] = o_.size * truncated_normal();
                di_[static_cast<size_t>(f)] = o_.size * truncated_normal();
            }
            return shifted(pu, qi, e, a, d);
        }
        if (o_.perturbation == Perturbation::adversarial_rows) return shifted(pu, qi, e, a, d);
        return {a, 0.0f, 0.0f, 0.0f};
    }

    // adversarial_rows: the perturbation rows of the next rating's p_u and q_i (d floats each).
    void set_rows(const float* du, const float* di, int d) {
        std::copy(du, du + d, du_.begin());
        std::copy(di, di + d, di_.begin());
    }

  private:
    float clip(float e) const { return std::clamp(e, -o_.huber, o_.huber); }

    PairGrad adversarial(const float* pu, const float* qi, float e, float a, int d) const {
        if (e == 0.0f) return {a, 0.0f, 0.0f, 0.0f};
        const float np = std::sqrt(dot(pu, pu, d)), nq = std::sqrt(dot(qi, qi, d));
        const float s = e > 0.0f ? o_.size : -o_.size;
        const float du = nq > 0.0f ? s / nq : 0.0f;  // delta_u = du * q_i
        const float di = np > 0.0f ? s / np : 0.0f;  // delta_i = di * p_u
        // (p_u + du q_i) . (q_i + di p_u) - p_u . q_i, expanded.
        const float e_adv = e + du * nq * nq + di * np * np + du * di * dot(pu, qi, d);
        const float a_adv = o_.weight * clip(e_adv);
        return {a + a_adv, a_adv * di, a_adv * du, 0.0f};
    }

    // The loss after shifting p_u and q_i by the held vectors delta_u, delta_i.
    PairGrad shifted(const float* pu, const float* qi, float e, float a, int d) const {
        // (p_u + delta_u) . (q_i + delta_i) - p_u . q_i
        const float shift = dot(pu, di_.data(), d) + dot(du_.data(), qi, d) + dot(du_.data(), di_.data(), d);
        const float a_shift = o_.weight * clip(e + shift);
        return {a + a_shift, 0.0f, 0.0f, a_shift};
    }

    // Standard normal redrawn beyond two std (Box-Muller).
    float truncated_normal() {
        for (;;) {
            const float r = std::sqrt(-2.0f * std::log(1.0f - rng_.uniform()));
            const float z = r * std::cos(6.28318530718f * rng_.uniform());
            if (std::fabs(z) <= 2.0f) return z;
        }
    }

    const Objective& o_;
    Rng rng_;
    std::vector<float> du_, di_;
};

}  // namespace fp
