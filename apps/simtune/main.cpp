// simtune: fine-tune and serve sentence-embedding models.
// Exit codes: 0 success, 1 a runtime error (bad file, bad input), 2 bad command-line usage.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "cli.h"
#include "simtune/core/cpu.h"
#include "simtune/core/error.h"
#include "simtune/core/version.h"
#include "simtune/dist/group.h"

namespace {

// std::filesystem's "filesystem error: cannot create directories: File exists [out]" as
// "out: cannot create directories: File exists".
std::string describe(const std::filesystem::filesystem_error& e) {
  std::string what = e.what();
  const std::string prefix = "filesystem error: ";
  if (what.starts_with(prefix)) what.erase(0, prefix.size());
  if (const auto bracket = what.find(" ["); bracket != std::string::npos) what.erase(bracket);
  std::string paths = e.path1().string();
  if (!e.path2().empty()) paths += " -> " + e.path2().string();
  return paths.empty() ? what : paths + ": " + what;
}

// Output on stdout is only known to have arrived once flushed. A reader that went away (`| head`)
// ends the process quietly, as SIGPIPE would have; any other failure is an error, so that output
// lost to a full disk never looks like success.
int finish_stdout(int code) {
  errno = 0;
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return code;
  const int err = errno;
  if (err == EPIPE) {
    ::signal(SIGPIPE, SIG_DFL);
    ::raise(SIGPIPE);
  }
  std::fprintf(stderr, "simtune: error: <stdout>: write failed: %s\n",
               err != 0 ? std::strerror(err) : "I/O error");
  return code == 0 ? 1 : code;
}

// Under mpirun the ranks end together: MPI is finalised after success, and a rank that fails stops
// every other one, so none waits forever in a collective for it.
int finish_job(int code) {
  if (!simtune::dist::launched_by_mpirun()) return code;
  try {
    simtune::dist::Group::world().finish(code);
  } catch (const simtune::Error&) {
    // MPI could not be loaded: the command failed with that message already.
  }
  return code;
}

int run(int argc, char** argv) {
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
  app.set_version_flag("--version", std::string("simtune ") + simtune::simtune_version() +
                                        "\nkernels: " + simtune::isa_name(simtune::active_isa()) +
                                        " on " + simtune::cpu_description());
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
    return finish_stdout(code == 0 ? 0 : 2);
  } catch (const simtune::Error& e) {
    std::fprintf(stderr, "simtune: error: %s\n", e.what());
    return finish_stdout(1);
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "simtune: error: %s\n", describe(e).c_str());
    return finish_stdout(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simtune: unexpected error: %s\n", e.what());
    return finish_stdout(1);
  }
  return finish_stdout(0);
}

}  // namespace

int main(int argc, char** argv) {
  return finish_job(run(argc, argv));
}
