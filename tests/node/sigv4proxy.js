// tests/node/sigv4proxy.js: a proxy in front of s3rver (which does not check SigV4
// signatures) that checks each request's signature with aws4, an independent SigV4
// implementation, before forwarding it. A request whose signature differs from the one
// aws4 computes from the same method, path, query and signed headers is answered 403
// SignatureDoesNotMatch, as AWS would.
//   node sigv4proxy.js TARGET_PORT SECRET   prints {"port":N} once listening
//   GET /__sigv4 answers {"ok":N,"bad":N,"last_bad":"..."}
'use strict';
const http = require('http');
const aws4 = require('aws4');

const target = Number(process.argv[2]);
const secret = process.argv[3];
let ok = 0, bad = 0, lastBad = '';

function check(req) {
    const auth = req.headers.authorization || '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return 'no SigV4 Authorization header: ' + auth;
    const [, key, , region, service, signed, sig] = m;
    const headers = {};
    for (const h of signed.split(';')) {
        if (h === 'host') continue;
        if (req.headers[h] === undefined) return 'signed header ' + h + ' is absent';
        headers[h] = req.headers[h];
    }
    // No body: the signed x-amz-content-sha256 stands for it (aws4 uses it), and a body would
    // make aws4 add content-type and content-length of its own.
    // Whatever the request signed is signed here too: range, which aws4 leaves out by
    // default, is a header SigV4 may sign like any other.
    const include = {};
    for (const h of signed.split(';')) include[h] = true;
    const opts = { host: req.headers.host, path: req.url, method: req.method, service, region, headers,
                   extraHeadersToInclude: include };
    aws4.sign(opts, { accessKeyId: key, secretAccessKey: secret });
    const want = /Signature=([0-9a-f]{64})/.exec(opts.headers.Authorization)[1];
    const wantSigned = /SignedHeaders=([^,]+)/.exec(opts.headers.Authorization)[1];
    if (wantSigned !== signed) return 'signed headers ' + signed + ', aws4 signs ' + wantSigned;
    return want === sig ? null : req.method + ' ' + req.url + ': signature ' + sig + ', aws4 computes ' + want;
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.url === '/__sigv4') {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ ok, bad, last_bad: lastBad }));
            return;
        }
        const why = check(req);
        if (why) {
            bad++;
            lastBad = why;
            res.writeHead(403, { 'content-type': 'application/xml' });
            res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>' +
                    why.replace(/[<&>]/g, '_') + '</Message></Error>');
            return;
        }
        ok++;
        const fwd = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
            (up) => { res.writeHead(up.statusCode, up.headers); up.pipe(res); });
        fwd.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
        fwd.end(body);
    });
});
server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
