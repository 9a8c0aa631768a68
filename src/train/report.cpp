#include "simtune/train/report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include "simtune/core/file.h"

namespace simtune {
namespace {

constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 90, kRight = 30, kTop = 50, kBottom = 70;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
// matplotlib's "tab10": distinct, colour-blind-tolerant hues.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

using Point = std::pair<double, double>;

struct Series {
  std::string id;     // data-series attribute, for tools and tests
  std::string label;  // legend text
  std::string color;
  double width = 2;
  bool markers = false;
  std::vector<Point> points;
};

struct Chart {
  std::string title, x_title, y_title;
  std::vector<Series> series;
  bool legend_bottom = false;  // where the data is least likely to be
};

struct Axis {
  double lo = 0, hi = 1, step = 1;
  double scale = 1;  // tick labels show value / scale; the title says "×1eN"
  int exponent = 0;
  int decimals = 0;
};

std::string num(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 2);
  return std::string(buf, end);
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Ticks at multiples of 1, 2 or 5 x 10^k, about `target` of them, covering [lo, hi].
// `integer` axes (steps) never get fractional ticks.
Axis nice_axis(double lo, double hi, int target, bool integer) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  Axis a;
  a.step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  if (integer) a.step = std::max(a.step, 1.0);
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  const double largest = std::max(std::abs(a.lo), std::abs(a.hi));
  const int e = static_cast<int>(std::floor(std::log10(largest)));
  // Learning rates (1e-5) and long runs (1e5+ steps) read better as scaled mantissas.
  if (e < -2 || e >= 5) {
    a.exponent = e;
    a.scale = std::pow(10.0, e);
  }
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(a.step / a.scale) + 1e-9)));
  return a;
}

std::vector<double> ticks(const Axis& a) {
  std::vector<double> out;
  const long n = std::lround((a.hi - a.lo) / a.step);
  for (long i = 0; i <= n; i++) {
    const double v = a.lo + static_cast<double>(i) * a.step;
    out.push_back(std::abs(v) < a.step * 1e-9 ? 0.0 : v);
  }
  return out;
}

std::string tick_label(const Axis& a, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", a.decimals, v / a.scale);
  return buf;
}

std::string axis_title(const Axis& a, const std::string& title) {
  return a.exponent == 0 ? title : title + " (×1e" + std::to_string(a.exponent) + ")";
}

std::string text(double x, double y, const std::string& cls, const std::string& anchor, double size,
                 const std::string& body, const std::string& extra = "") {
  return "<text class=\"" + cls + "\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" +
         anchor + "\" font-size=\"" + num(size) + "\"" + extra + ">" + xml_escape(body) +
         "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const std::string& cls,
                 const std::string& stroke, double width) {
  return "<line class=\"" + cls + "\" x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" +
         num(x2) + "\" y2=\"" + num(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" +
         num(width) + "\"/>\n";
}

// The legend box in the plot's top or bottom right corner.
std::string legend(const Chart& chart, double right, double bottom) {
  std::string svg;
  // About 7 px per character at 12 px: wide enough for the longest label, without measuring.
  std::size_t longest = 0;
  for (const Series& s : chart.series) {
    const auto chars = std::count_if(s.label.begin(), s.label.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    });
    longest = std::max(longest, static_cast<std::size_t>(chars));
  }
  const double row = 20, box_w = std::min(kPlotW - 20, 56 + 7.0 * static_cast<double>(longest));
  const double box_h = row * static_cast<double>(chart.series.size()) + 10;
  const double bx = right - box_w - 10;
  const double by = chart.legend_bottom ? bottom - box_h - 10 : kTop + 10;
  svg += "<rect class=\"legend\" x=\"" + num(bx) + "\" y=\"" + num(by) + "\" width=\"" +
         num(box_w) + "\" height=\"" + num(box_h) +
         "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n";
  for (std::size_t i = 0; i < chart.series.size(); i++) {
    const Series& s = chart.series[i];
    const double y = by + 5 + row * (static_cast<double>(i) + 0.5);
    svg += line(bx + 10, y, bx + 34, y, "legend-swatch", s.color, std::max(s.width, 2.0));
    svg += text(bx + 42, y + 4, "legend-label", "start", 12, s.label);
  }
  return svg;
}

std::string render(const Chart& chart) {
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  for (const Series& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
      y_min = std::min(y_min, y);
      y_max = std::max(y_max, y);
    }
  }
  if (!std::isfinite(x_min)) x_min = x_max = y_min = y_max = 0;  // no finite point at all
  const Axis xa = nice_axis(std::min(x_min, 0.0), x_max, 8, true);
  // A little headroom so extreme points do not sit on the axis line.
  const double pad = (y_max - y_min) * 0.03;
  const Axis ya = nice_axis(y_min - pad, y_max + pad, 6, false);
  auto px = [&](double x) { return kLeft + (x - xa.lo) / (xa.hi - xa.lo) * kPlotW; };
  auto py = [&](double y) { return kTop + kPlotH - (y - ya.lo) / (ya.hi - ya.lo) * kPlotH; };
  const double bottom = kTop + kPlotH, right = kLeft + kPlotW;

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
         num(kHeight) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" fill=\"#222\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += text(kLeft + kPlotW / 2, 30, "title", "middle", 17, chart.title, " font-weight=\"bold\"");
  for (double t : ticks(xa)) {
    svg += line(px(t), kTop, px(t), bottom, "grid", "#e6e6e6", 1);
    svg += line(px(t), bottom, px(t), bottom + 5, "tick", "#333", 1);
    svg += text(px(t), bottom + 20, "tick-x", "middle", 12, tick_label(xa, t));
  }
  for (double t : ticks(ya)) {
    svg += line(kLeft, py(t), right, py(t), "grid", "#e6e6e6", 1);
    svg += line(kLeft - 5, py(t), kLeft, py(t), "tick", "#333", 1);
    svg += text(kLeft - 9, py(t) + 4, "tick-y", "end", 12, tick_label(ya, t));
  }
  svg += line(kLeft, kTop, kLeft, bottom, "axis", "#333", 1.2);
  svg += line(kLeft, bottom, right, bottom, "axis", "#333", 1.2);
  svg += text(kLeft + kPlotW / 2, kHeight - 22, "axis-title-x", "middle", 14,
              axis_title(xa, chart.x_title));
  const double ty = kTop + kPlotH / 2;
  svg += text(24, ty, "axis-title-y", "middle", 14, axis_title(ya, chart.y_title),
              " transform=\"rotate(-90 24 " + num(ty) + ")\"");

  for (const Series& s : chart.series) {
    std::string pts;
    for (const auto& [x, y] : s.points) {
      if (!pts.empty()) pts.push_back(' ');
      pts += num(px(x)) + "," + num(py(y));
    }
    svg += "<polyline data-series=\"" + xml_escape(s.id) + "\" fill=\"none\" stroke=\"" + s.color +
           "\" stroke-width=\"" + num(s.width) + "\" stroke-linejoin=\"round\" points=\"" + pts +
           "\"/>\n";
    if (!s.markers) continue;
    for (const auto& [x, y] : s.points) {
      svg += "<circle data-series=\"" + xml_escape(s.id) + "\" cx=\"" + num(px(x)) + "\" cy=\"" +
             num(py(y)) + "\" r=\"3.5\" fill=\"" + s.color + "\"/>\n";
    }
  }

  svg += legend(chart, right, bottom);
  svg += "</svg>\n";
  return svg;
}

void add_point(Series& s, double x, double y) {
  if (std::isfinite(x) && std::isfinite(y)) s.points.emplace_back(x, y);
}

}  // namespace

void write_training_plots(const std::filesystem::path& out_dir,
                          const std::vector<StepReport>& steps,
                          const std::vector<EvalRecord>& evals) {
  if (!steps.empty()) {
    // TensorBoard-style debiased moving average, smoothing more the more steps there are.
    const double weight = std::clamp(1.0 - 5.0 / static_cast<double>(steps.size()), 0.0, 0.95);
    char label[64];
    std::snprintf(label, sizeof label, "smoothed (EMA %.2f)", weight);
    Series raw{"loss", "loss per step", "#9ecae1", 1.2, false, {}};
    Series smooth{"loss-smoothed", label, "#1f77b4", 2.4, false, {}};
    Series lr{"lr", "learning rate", "#d62728", 2, false, {}};
    double ema = 0;
    int seen = 0;
    for (const StepReport& s : steps) {
      const double x = static_cast<double>(s.step);
      add_point(raw, x, s.loss);
      add_point(lr, x, s.lr);
      if (!std::isfinite(s.loss)) continue;
      ema = weight * ema + (1 - weight) * s.loss;
      seen++;
      add_point(smooth, x, ema / (1 - std::pow(weight, seen)));
    }
    // Too few steps to smooth: the smoothed line would only hide the raw one.
    std::vector<Series> loss_series{raw};
    if (weight > 0) {
      loss_series.push_back(smooth);
    } else {
      loss_series[0].color = smooth.color;
      loss_series[0].width = smooth.width;
    }
    write_file_atomic(out_dir / "loss.svg",
                      render({"Training loss", "step", "loss", loss_series, false}));
    write_file_atomic(out_dir / "lr.svg",
                      render({"Learning rate schedule", "step", "learning rate", {lr}, false}));
  }
  if (!evals.empty()) {
    std::vector<Series> series;
    std::map<std::string, std::size_t> index;  // first-appearance order keeps colours stable
    for (const EvalRecord& e : evals) {
      auto [it, added] = index.emplace(e.name, series.size());
      if (added) {
        const std::string name = e.name.empty() ? "eval" : e.name;
        series.push_back({name, name, kPalette[series.size() % std::size(kPalette)], 2, true, {}});
      }
      add_point(series[it->second], static_cast<double>(e.step), e.metrics.cosine_spearman);
    }
    write_file_atomic(out_dir / "eval.svg", render({"Evaluation: cosine Spearman", "step",
                                                    "cosine Spearman", std::move(series), true}));
  }
}

}  // namespace simtune
