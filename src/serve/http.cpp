#include "serve/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "simtune/core/error.h"

namespace simtune::serve {
namespace {

thread_local bool t_refusing = false;

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds timeout(time_t sec, time_t usec) {
  return std::chrono::milliseconds(sec * 1000 + usec / 1000);
}

// Waits up to `wait` for the socket to be readable (events POLLIN) or writable (POLLOUT).
bool ready(int fd, short events, std::chrono::milliseconds wait) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(wait.count(), 0)));
    if (n >= 0) return n > 0;
    if (errno != EINTR) return false;
  }
}

void address(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    port = ntohs(a.sin6_port);
  }
  ip = text;
}

// A connection's socket as httplib reads and writes it, buffered, with each read bounded by the
// per-read timeout and by the deadline of the request being read.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int fd, std::chrono::milliseconds read_timeout,
                 std::chrono::milliseconds write_timeout)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

  void start_request(std::chrono::milliseconds deadline) { deadline_ = Clock::now() + deadline; }
  bool buffered() const { return begin_ < end_; }

  bool is_readable() const override {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    return left.count() > 0 && ready(fd_, POLLIN, std::min(left, read_timeout_));
  }
  bool is_writable() const override { return ready(fd_, POLLOUT, write_timeout_); }

  ssize_t read(char* out, size_t size) override {
    if (!buffered()) {
      if (!is_readable()) return -1;
      ssize_t n;
      do {
        n = ::recv(fd_, buffer_, sizeof buffer_, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<std::size_t>(n);
    }
    const std::size_t n = std::min(size, end_ - begin_);
    std::copy_n(buffer_ + begin_, n, out);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* data, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, data, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address(addr, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address(addr, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  const int fd_;
  const std::chrono::milliseconds read_timeout_, write_timeout_;
  Clock::time_point deadline_ = Clock::now();
  char buffer_[4096];
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace

ConnectionPool::ConnectionPool(std::size_t serving, std::size_t refusing) {
  threads_.reserve(serving + refusing);
  for (std::size_t i = 0; i < serving; i++)
    threads_.emplace_back([this] { work(serving_, false); });
  for (std::size_t i = 0; i < refusing; i++)
    threads_.emplace_back([this] { work(refusing_, true); });
}

ConnectionPool::~ConnectionPool() {
  shutdown();
}

void ConnectionPool::enqueue(std::function<void()> connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  Lane& lane = serving_.idle > serving_.queue.size() ? serving_ : refusing_;
  lane.queue.push_back(std::move(connection));
  lane.wake.notify_one();
}

void ConnectionPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    serving_.wake.notify_all();
    refusing_.wake.notify_all();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool ConnectionPool::refusing() {
  return t_refusing;
}

void ConnectionPool::work(Lane& lane, bool refusing) {
  t_refusing = refusing;
  for (;;) {
    std::function<void()> connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      lane.idle++;
      lane.wake.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
      lane.idle--;
      if (lane.queue.empty()) return;  // stopping, and nothing left
      connection = std::move(lane.queue.front());
      lane.queue.pop_front();
    }
    connection();
  }
}

namespace {

int new_event() {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  if (fd < 0) {
    throw Error(std::string("simtune serve: cannot create the stop event (eventfd): ") +
                std::strerror(errno));
  }
  return fd;
}

}  // namespace

HttpServer::HttpServer(std::chrono::milliseconds request_deadline)
    : request_deadline_(request_deadline), stopped_(new_event()) {}

HttpServer::~HttpServer() {
  ::close(stopped_);
}

void HttpServer::stop() {
  httplib::Server::stop();
  // Never read: the counter stays non-zero, so every wait from now on returns at once too.
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(stopped_, &one, sizeof one);
}

void HttpServer::set_backlog(int connections) {
  // listen() again on a listening socket changes its backlog (Linux, BSD).
  ::listen(svr_sock_, connections);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  DeadlineStream stream(sock, timeout(read_timeout_sec_, read_timeout_usec_),
                        timeout(write_timeout_sec_, write_timeout_usec_));
  // A next request may wait up to the keep-alive timeout, or until the server stops: then an
  // idle connection closes at once; a request already sent is still answered (the routes
  // answer 503 then), and the connection closed after it.
  const auto next_request = [&] {
    if (stream.buffered()) return true;
    const auto until = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    pollfd waits[2] = {{sock, POLLIN, 0}, {stopped_, POLLIN, 0}};
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      const int n = ::poll(waits, 2, static_cast<int>(std::max<long long>(left.count(), 0)));
      if (n < 0 && errno == EINTR) continue;
      // Bytes, or a hang-up or error that process_request then reads as the end.
      return n > 0 && waits[0].revents != 0;
    }
  };
  bool ok = false;
  for (std::size_t left = ConnectionPool::refusing() ? 1 : keep_alive_max_count_;
       left > 0 && next_request(); left--) {
    stream.start_request(request_deadline_);
    bool closed = false;
    ok = process_request(stream, left == 1 || svr_sock_ == INVALID_SOCKET, closed, nullptr);
    if (!ok || closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace simtune::serve
