// Sample app for nodejs_buildpack: answers GET / and exits on GET /crash.
'use strict';
const http = require('http');

let extra = '';
try {
  // present when the test vendors it (see the buildpack tests)
  extra = ' ' + require('greeting').message;
} catch (e) {
  if (e.code !== 'MODULE_NOT_FOUND') throw e;
}

const server = http.createServer((req, res) => {
  if (req.url === '/crash') {
    console.log('crashing on request');
    process.exit(3);
  }
  const body = `hello from nodejs, instance ${process.env.CF_INSTANCE_INDEX ?? '?'}${extra}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
});

const port = Number(process.env.PORT);
server.listen(port, '0.0.0.0', () => {
  console.log(`nodejs sample listening on ${port} (node ${process.version})`);
});
