// libsimtune_mpi.so: the MPI calls of SimtuneMpiApi (dist/mpi_abi.h) over MPI_COMM_WORLD. The
// only code that includes mpi.h or links libmpi.
//
// Each collective is started non-blocking and waited for by polling with growing sleeps, where
// MPI's blocking calls spin: a rank that waits for a slower one (most of the time, as ranks
// finish their backward passes at different moments) then leaves its core to the threads that
// compute, which matters where ranks share cores. The sleeps stay below 1 ms, small against a
// training step.
#include <mpi.h>
#include <time.h>

#include <cstdio>
#include <vector>

#include "dist/mpi_abi.h"

namespace {

MPI_Datatype datatype(int type) {
  return type == kSimtuneMpiInt32 ? MPI_INT32_T : MPI_FLOAT;
}

// The started collectives' requests, by handle; a completed one's slot is reused.
std::vector<MPI_Request> requests;
// Where the started allgathers run (MPI_COMM_WORLD's duplicate).
MPI_Comm gather_comm = MPI_COMM_NULL;

int keep(MPI_Request request) {
  for (std::size_t h = 0; h < requests.size(); h++) {
    if (requests[h] == MPI_REQUEST_NULL) {
      requests[h] = request;
      return static_cast<int>(h);
    }
  }
  requests.push_back(request);
  return static_cast<int>(requests.size() - 1);
}

int test(int handle) {
  int done = 0;
  // A completed request becomes MPI_REQUEST_NULL, which frees its slot.
  MPI_Test(&requests[static_cast<std::size_t>(handle)], &done, MPI_STATUS_IGNORE);
  return done;
}

void wait_handle(int handle) {
  long sleep_ns = 1000;
  for (int polls = 0;; polls++) {
    if (test(handle)) return;
    if (polls < 64) continue;  // a quick answer costs no sleep
    const timespec pause{0, sleep_ns};
    nanosleep(&pause, nullptr);
    if (sleep_ns < 500000) sleep_ns *= 2;
  }
}

int init(int* rank, int* size, char* message, int message_size) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::snprintf(message, static_cast<std::size_t>(message_size), "MPI_Init_thread failed");
    return 1;
  }
  if (provided < MPI_THREAD_FUNNELED) {
    std::snprintf(message, static_cast<std::size_t>(message_size),
                  "this MPI does not allow threads in an MPI process (MPI_THREAD_FUNNELED)");
    return 1;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  MPI_Comm_dup(MPI_COMM_WORLD, &gather_comm);
  return 0;
}

void wait(MPI_Request request) {
  wait_handle(keep(request));
}

int start_alltoallv(const void* send, const int* send_counts, const int* send_displs, void* recv,
                    const int* recv_counts, const int* recv_displs, int type) {
  MPI_Request request;
  MPI_Ialltoallv(send, send_counts, send_displs, datatype(type), recv, recv_counts, recv_displs,
                 datatype(type), MPI_COMM_WORLD, &request);
  return keep(request);
}

int start_allgatherv(void* recv, const int* counts, const int* displs, int type) {
  MPI_Request request;
  MPI_Iallgatherv(MPI_IN_PLACE, 0, datatype(type), recv, counts, displs, datatype(type),
                  gather_comm, &request);
  return keep(request);
}

void allgatherv(const void* send, int send_count, void* recv, const int* counts, const int* displs,
                int type) {
  MPI_Request request;
  MPI_Iallgatherv(send == nullptr ? MPI_IN_PLACE : send, send_count, datatype(type), recv, counts,
                  displs, datatype(type), MPI_COMM_WORLD, &request);
  wait(request);
}

void gatherv(const void* send, int send_count, void* recv, const int* counts, const int* displs,
             int type, int root) {
  MPI_Request request;
  MPI_Igatherv(send, send_count, datatype(type), recv, counts, displs, datatype(type), root,
               MPI_COMM_WORLD, &request);
  wait(request);
}

void abort_job(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
}

void finalize() {
  MPI_Comm_free(&gather_comm);
  MPI_Finalize();
}

const SimtuneMpiApi kApi{kSimtuneMpiAbi, init,       start_alltoallv, start_allgatherv, test,
                         wait_handle,    allgatherv, gatherv,         abort_job,        finalize};

}  // namespace

extern "C" const SimtuneMpiApi* simtune_mpi_api(void) {
  return &kApi;
}
