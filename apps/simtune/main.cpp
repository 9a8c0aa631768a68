// simtune: fine-tune and serve sentence-embedding models.
// Exit codes: 0 success, 1 a runtime error (bad file, bad input), 2 bad command-line usage.
#include <cstdio>

#include "cli.h"
#include "simtune/core/cpu.h"
#include "simtune/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"simtune: sentence-embedding models (sentence-transformers format) in C++",
               "simtune"};
  app.require_subcommand(1);
  try {
    // The kernels' instruction set is settled before anything runs (SIMTUNE_ISA may force one).
    simtune::active_isa();
  } catch (const simtune::Error& e) {
    std::fprintf(stderr, "simtune: error: %s\n", e.what());
    return 2;
  }
  app.set_version_flag("--version", std::string("simtune 0.1.0\nkernels: ") +
                                        simtune::isa_name(simtune::active_isa()) + " on " +
                                        simtune::cpu_description());
  simtune::cli::add_init(app);
  simtune::cli::add_tokenize(app);
  simtune::cli::add_encode(app);
  simtune::cli::add_similarity(app);
  simtune::cli::add_train(app);
  simtune::cli::add_eval(app);
  simtune::cli::add_search(app);
  simtune::cli::add_mine_paraphrases(app);
  simtune::cli::add_serve(app);
  simtune::cli::add_bench(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const simtune::Error& e) {
    std::fprintf(stderr, "simtune: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simtune: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
}
