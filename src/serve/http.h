// The connections under simtune serve's routes. cpp-httplib parses every request; two things
// its defaults lack are added around it:
// - a whole-request deadline: httplib's read timeout bounds each read, so a client dribbling
//   its headers one byte a second would hold a thread forever; here the headers and body of a
//   request must all arrive within the deadline;
// - admission at accept: httplib's pool queues a connection without bound while every thread is
//   busy; here such a connection goes to a few refusing threads whose routes answer 429 at once
//   (refusing()), then close it.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace simtune::serve {

class ConnectionPool : public httplib::TaskQueue {
 public:
  // serving threads each hold a connection for its keep-alive life; refusing threads take the
  // connections that arrive while none of them is idle.
  ConnectionPool(std::size_t serving, std::size_t refusing);
  ~ConnectionPool() override;
  void enqueue(std::function<void()> connection) override;
  // Lets queued connections finish, then joins every thread.
  void shutdown() override;
  // Whether the calling thread answers a connection that came while every serving thread was
  // busy.
  static bool refusing();

 private:
  struct Lane {
    std::deque<std::function<void()>> queue;
    std::size_t idle = 0;
    std::condition_variable wake;
  };
  void work(Lane& lane, bool refusing);

  std::mutex mutex_;
  Lane serving_, refusing_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(std::chrono::milliseconds request_deadline);
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // httplib's stop() (not virtual, so hidden here), then wakes the connections idling between
  // keep-alive requests so they close at once.
  void stop();

  // After binding: lets the kernel hold `connections` not yet accepted. httplib listens with a
  // backlog of 5, past which a burst of clients waits on SYN retransmissions (seconds) or is
  // reset, instead of being answered (429 at worst) at once.
  void set_backlog(int connections);

 private:
  // httplib's keep-alive loop over one connection, reading through a stream that enforces the
  // deadline; one request only on a refusing thread.
  bool process_and_close_socket(socket_t sock) override;

  const std::chrono::milliseconds request_deadline_;
  // An eventfd, readable from stop() on: idle connections wait on it beside their socket.
  const int stopped_;
};

}  // namespace simtune::serve
