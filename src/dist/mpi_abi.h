// The calls simtune makes into MPI, as a table of C functions that the plugin
// (mpi_plugin/plugin.cpp, built as libsimtune_mpi.so against the system's MPI) fills. Only the
// plugin links libmpi, so simtune itself runs on machines without MPI; group.cpp loads the plugin
// when mpirun launched the process. Every call is collective over MPI_COMM_WORLD (the started
// allgathers over a duplicate of it, see below), and MPI's default error handler (errors are
// fatal, the whole job stops) stays in force.
#pragma once

extern "C" {

enum SimtuneMpiType { kSimtuneMpiFloat = 0, kSimtuneMpiInt32 = 1 };

struct SimtuneMpiApi {
  int abi_version;  // kSimtuneMpiAbi
  // MPI_Init_thread (funneled: only the main thread calls MPI). Returns 0, or non-zero with a
  // message in `message`.
  int (*init)(int* rank, int* size, char* message, int message_size);
  // Non-blocking collectives: each returns a handle for test and wait; the buffers stay in use
  // until then. MPI wants collectives started in the same order on every rank; the started
  // allgathers run over a communicator of their own, so that order need only hold among the
  // started alltoallvs, and among the started allgathers, separately.
  int (*start_alltoallv)(const void* send, const int* send_counts, const int* send_displs,
                         void* recv, const int* recv_counts, const int* recv_displs, int type);
  // In place: rank r's part already sits at recv + displs[r].
  int (*start_allgatherv)(void* recv, const int* counts, const int* displs, int type);
  // 1 when the collective has completed (its handle is then released), else 0.
  int (*test)(int handle);
  void (*wait)(int handle);
  // `send` null: in place (rank r's part already sits at recv + displs[r]).
  void (*allgatherv)(const void* send, int send_count, void* recv, const int* counts,
                     const int* displs, int type);
  void (*gatherv)(const void* send, int send_count, void* recv, const int* counts,
                  const int* displs, int type, int root);
  void (*abort)(int code);
  void (*finalize)(void);
};

const SimtuneMpiApi* simtune_mpi_api(void);
}

constexpr int kSimtuneMpiAbi = 2;
constexpr const char* kSimtuneMpiPlugin = "libsimtune_mpi.so";
