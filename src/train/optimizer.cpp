#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

#include "simtune/core/cpu.h"
#include "train/adamw_kernels.h"

namespace simtune {
namespace {

struct AdamWKernels {
  decltype(&isa_generic::adamw_update) update;
  decltype(&isa_generic::adamw_first_update) first_update;
};

const AdamWKernels& adamw_kernels() {
  static const AdamWKernels kernels = [] {
    switch (active_isa()) {
      case Isa::avx512:
        return AdamWKernels{isa_avx512::adamw_update, isa_avx512::adamw_first_update};
      case Isa::avx2:
        return AdamWKernels{isa_avx2::adamw_update, isa_avx2::adamw_first_update};
      case Isa::generic:
        break;
    }
    return AdamWKernels{isa_generic::adamw_update, isa_generic::adamw_first_update};
  }();
  return kernels;
}

bool decays(const std::string& name) {
  return name.find("bias") == std::string::npos &&
         name.find("LayerNorm.weight") == std::string::npos;
}

}  // namespace

AdamW::AdamW(const ParamLayout& layout, AdamWConfig config)
    : config_(config), m_(layout.total), v_(layout.total) {
  constexpr std::size_t kChunk = 4096;
  for (const auto& t : layout.tensors) {
    const bool decay = decays(t.name);
    for (std::size_t b = t.offset, end = t.offset + t.numel; b < end;) {
      // Adjacent tensors with the same setting fill the last chunk up before a new one starts.
      if (!chunks_.empty() && chunks_.back().decay == decay && chunks_.back().end == b &&
          chunks_.back().end - chunks_.back().begin < kChunk) {
        const std::size_t grow =
            std::min(kChunk - (chunks_.back().end - chunks_.back().begin), end - b);
        chunks_.back().end += grow;
        b += grow;
      } else {
        const std::size_t stop = std::min(end, b + kChunk);
        chunks_.push_back({b, stop, decay});
        b = stop;
      }
    }
  }
}

void AdamW::step(float* params, Gradients& gradients, float lr, float grad_scale) noexcept {
  const SparseRows& rows = gradients.rows();
  const AdamWKernels& kernels = adamw_kernels();
  t_++;
  const float b1 = config_.beta1, b2 = config_.beta2;
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(b1), t_));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(b2), t_));
  const AdamWUpdate u{params, gradients.data(), m_.data(), v_.data(),      b1,
                      b2,     config_.eps,      lr / bc1,  std::sqrt(bc2), grad_scale};
  // At the first step every moment is still zero.
  const auto update = t_ == 1 ? kernels.first_update : kernels.update;
  const std::size_t emb_begin = rows.offset, emb_end = rows.end(), width = rows.width;
  const float decayed = 1.0f - lr * config_.weight_decay;
  const auto chunks = static_cast<std::int64_t>(chunks_.size());
  // Dynamic: a chunk of embedding rows no batch has hit costs a fraction of a full update, and
  // those rows sit together, so equal counts of chunks are far from equal work (statically, one
  // thread did the dense updates while the other decayed rows and then waited for it). Sixteen
  // chunks a grab keep each thread's reads long runs for the prefetchers.
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t c = 0; c < chunks; c++) {
    const Chunk& chunk = chunks_[static_cast<std::size_t>(c)];
    const float keep = chunk.decay ? decayed : 1.0f;
    if (chunk.end <= emb_begin || chunk.begin >= emb_end) {
      update(u, chunk.begin, chunk.end, keep);
      continue;
    }
    // Embedding rows: full update for rows hit before, decay for the rest.
    for (std::size_t i = chunk.begin; i < chunk.end;) {
      if (i < emb_begin || i >= emb_end) {
        const std::size_t stop = i < emb_begin ? std::min(chunk.end, emb_begin) : chunk.end;
        update(u, i, stop, keep);
        i = stop;
        continue;
      }
      const std::size_t r = (i - emb_begin) / width;
      const std::size_t stop = std::min(chunk.end, emb_begin + (r + 1) * width);
      switch (rows.seen[r]) {
        case SparseRows::kFirstHit:
          kernels.first_update(u, i, stop, keep);
          break;
        case SparseRows::kHit:
          kernels.update(u, i, stop, keep);
          break;
        default:
          for (std::size_t k = i; k < stop; k++) params[k] *= keep;
      }
      i = stop;
    }
  }
  // Every float outside the embedding rows, and every row of the batch (kFirstHit or kHit), went
  // through an update, which zeroed its gradient.
  gradients.zeroed_by_step();
}

double grad_norm(const Gradients& gradients) noexcept {
  const float* grads = gradients.data();
  const SparseRows& rows = gradients.rows();
  double sq = 0.0;
  for (const FloatRange& range : gradients.dense_ranges()) {
    const std::size_t b = range.begin, e = range.end;
#pragma omp parallel for simd reduction(+ : sq) schedule(static)
    for (std::size_t i = b; i < e; i++) sq += static_cast<double>(grads[i]) * grads[i];
  }
  for (std::int32_t r : rows.batch) {
    const float* g = grads + rows.offset + static_cast<std::size_t>(r) * rows.width;
    for (std::size_t i = 0; i < rows.width; i++) sq += static_cast<double>(g[i]) * g[i];
  }
  return std::sqrt(sq);
}

float clip_scale(double norm, double max_norm) noexcept {
  const double coef = max_norm / (norm + 1e-6);
  return coef < 1.0 ? static_cast<float>(coef) : 1.0f;
}

double LinearWarmup::at(std::int64_t step) const noexcept {
  if (step < warmup)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) /
                           static_cast<double>(std::max<std::int64_t>(1, total - warmup)));
}

}  // namespace simtune
