# Sample app for ruby_buildpack: answers GET / and exits on GET /crash. Ruby 3 no longer
# bundles webrick, so this speaks just enough HTTP/1.1 over the standard library's TCPServer.
require "socket"

begin
  require "greeting" # present when the test vendors it (see the buildpack tests)
  EXTRA = " #{Greeting::MESSAGE}"
rescue LoadError
  EXTRA = ""
end

$stdout.sync = true
port = Integer(ENV.fetch("PORT"))
server = TCPServer.new("0.0.0.0", port)
puts "ruby sample listening on #{port} (ruby #{RUBY_VERSION})"

loop do
  client = server.accept
  Thread.new(client) do |conn|
    request_line = conn.gets.to_s
    while (line = conn.gets) && line != "\r\n" && line != "\n"
      # headers are not needed
    end
    _method, path, = request_line.split(" ")
    if path == "/crash"
      puts "crashing on request"
      exit!(3)
    end
    body = "hello from ruby, instance #{ENV.fetch('CF_INSTANCE_INDEX', '?')}#{EXTRA}\n"
    conn.write "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n" \
               "Content-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}"
  rescue StandardError => e
    warn "request failed: #{e.message}"
  ensure
    conn.close
  end
end
