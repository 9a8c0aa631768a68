#include "simtune/train/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "temp_dir.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One directory for the whole test process, removed at exit.
const fs::path& test_root() {
  static const testing::TempDir dir("report_test");
  return dir.path();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = test_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Basic well-formedness: an XML declaration, one <svg> root, every element closed in order,
// attributes quoted, and no raw '&' outside entities.
void expect_well_formed(const std::string& xml) {
  ASSERT_EQ(xml.rfind("<?xml", 0), 0u);
  std::vector<std::string> open;
  int roots = 0;
  std::size_t pos = xml.find("?>") + 2;
  while ((pos = xml.find('<', pos)) != std::string::npos) {
    const std::size_t end = xml.find('>', pos);
    ASSERT_NE(end, std::string::npos);
    std::string tag = xml.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag[0] == '/') {
      ASSERT_FALSE(open.empty()) << tag;
      ASSERT_EQ(open.back(), tag.substr(1));
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    ASSERT_TRUE(std::regex_match(name, std::regex("[a-z]+"))) << name;
    std::size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    ASSERT_EQ(quotes % 2, 0u) << tag;
    if (open.empty()) roots++;
    if (!self_closing) open.push_back(name);
  }
  EXPECT_TRUE(open.empty());
  EXPECT_EQ(roots, 1);
  const std::regex bad_amp("&(?!(amp|lt|gt|quot|apos);)");
  EXPECT_FALSE(std::regex_search(xml, bad_amp));
}

std::size_t points_of(const std::string& svg, const std::string& series) {
  const std::regex re("<polyline data-series=\"" + series + "\"[^>]* points=\"([^\"]*)\"");
  std::smatch m;
  if (!std::regex_search(svg, m, re)) return SIZE_MAX;
  std::istringstream in(m[1].str());
  std::string pair;
  std::size_t n = 0;
  while (in >> pair) {
    EXPECT_TRUE(std::regex_match(pair, std::regex("-?[0-9.]+,-?[0-9.]+"))) << pair;
    n++;
  }
  return n;
}

std::size_t count(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) n++;
  return n;
}

// Tick labels of one axis, parsed as numbers: evenly spaced by 1, 2 or 5 x 10^k.
void expect_nice_ticks(const std::string& svg, const std::string& cls) {
  const std::regex re("class=\"" + cls + "\"[^>]*>([^<]*)<");
  std::vector<double> v;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it) {
    v.push_back(std::stod((*it)[1].str()));
  }
  ASSERT_GE(v.size(), 3u) << cls;
  ASSERT_LE(v.size(), 12u) << cls;
  const double step = v[1] - v[0];
  ASSERT_GT(step, 0);
  for (std::size_t i = 1; i < v.size(); i++) EXPECT_NEAR(v[i] - v[i - 1], step, step * 1e-6);
  const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
              std::abs(mantissa - 5) < 1e-6)
      << cls << " step " << step;
  EXPECT_NEAR(std::remainder(v[0], step), 0, step * 1e-6) << cls;
}

std::vector<StepReport> run_steps(int n) {
  std::vector<StepReport> steps;
  for (int i = 1; i <= n; i++) {
    StepReport s;
    s.step = i;
    s.total_steps = n;
    s.epoch = i / 50.0;
    s.loss = static_cast<float>(0.3 * std::exp(-i / 40.0) + 0.02 * std::sin(i * 1.7) + 0.05);
    s.lr = static_cast<float>(2e-5 * (i < 14 ? i / 14.0 : (n - i) / double(n - 14)));
    steps.push_back(s);
  }
  return steps;
}

TEST(Report, WritesWellFormedPlotsWithAllPoints) {
  const fs::path dir = fresh_dir("all");
  const auto steps = run_steps(137);
  std::vector<EvalRecord> evals;
  for (int i = 1; i <= 4; i++) {
    SimilarityMetrics dev, other;
    dev.cosine_spearman = 0.6 + 0.05 * i;
    other.cosine_spearman = 0.55 + 0.04 * i;
    evals.push_back({"sts-dev", i * 34, i * 34 / 50.0, dev});
    evals.push_back({"a&b <test>", i * 34, i * 34 / 50.0, other});
  }
  write_training_plots(dir, steps, evals);

  const std::string loss = slurp(dir / "loss.svg");
  expect_well_formed(loss);
  EXPECT_EQ(points_of(loss, "loss"), steps.size());
  EXPECT_EQ(points_of(loss, "loss-smoothed"), steps.size());
  EXPECT_NE(loss.find(">step</text>"), std::string::npos);
  EXPECT_NE(loss.find(">loss</text>"), std::string::npos);
  expect_nice_ticks(loss, "tick-x");
  expect_nice_ticks(loss, "tick-y");

  const std::string lr = slurp(dir / "lr.svg");
  expect_well_formed(lr);
  EXPECT_EQ(points_of(lr, "lr"), steps.size());
  EXPECT_NE(lr.find(">learning rate (×1e-5)</text>"), std::string::npos);
  expect_nice_ticks(lr, "tick-y");

  const std::string ev = slurp(dir / "eval.svg");
  expect_well_formed(ev);
  EXPECT_EQ(points_of(ev, "sts-dev"), 4u);
  EXPECT_EQ(points_of(ev, "a&amp;b &lt;test&gt;"), 4u);
  EXPECT_EQ(count(ev, "<circle"), evals.size());
  EXPECT_NE(ev.find(">cosine Spearman</text>"), std::string::npos);
  expect_nice_ticks(ev, "tick-y");
}

TEST(Report, SkipsEvalPlotWithoutEvalsAndNonFinitePoints) {
  const fs::path dir = fresh_dir("noeval");
  auto steps = run_steps(5);
  steps[2].loss = std::nanf("");
  write_training_plots(dir, steps, {});
  EXPECT_FALSE(fs::exists(dir / "eval.svg"));
  const std::string loss = slurp(dir / "loss.svg");
  expect_well_formed(loss);
  EXPECT_EQ(points_of(loss, "loss"), 4u);
  // Five steps are too few to smooth.
  EXPECT_EQ(points_of(loss, "loss-smoothed"), SIZE_MAX);
  EXPECT_EQ(points_of(slurp(dir / "lr.svg"), "lr"), 5u);
}

TEST(Report, OneStepAndConstantValuesStillGetARange) {
  const fs::path dir = fresh_dir("one");
  SimilarityMetrics m;
  m.cosine_spearman = 0.8;
  write_training_plots(dir, run_steps(1), {{"dev", 1, 0.0, m}});
  const std::string ev = slurp(dir / "eval.svg");
  expect_well_formed(ev);
  EXPECT_EQ(points_of(ev, "dev"), 1u);
  expect_nice_ticks(ev, "tick-y");
  expect_nice_ticks(slurp(dir / "loss.svg"), "tick-y");
}

}  // namespace
}  // namespace simtune
