// Zabbix webhook "smsgw SMS" (embedded in smsgw_media.yaml; this file is the source,
// deploy/zabbix/validate.py checks that both are equal). Zabbix runs it in Duktape: ES5.
// Sends the alert as an SMS through POST /api/v1/messages. The Idempotency-Key is made from
// the event, so Zabbix's retries of a failed attempt never send the SMS twice.
var MAX_UNITS = 268;    // a HiLink modem sends at most 268 UTF-16 units (or 612 GSM septets)

function present(v) {
    return typeof v === 'string' && v.length > 0 && v.charAt(0) !== '{';
}

// The time of what is being reported, as Zabbix formats it ({EVENT.DATE} "2026.11.25",
// {EVENT.TIME} "21:01:38", in the server's time zone, which is also Duktape's): the expiry
// derives from it, so a retried attempt sends the same body under the same key.
function eventTime(date, time) {
    var d = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(date || '');
    var t = /^(\d{2}):(\d{2}):(\d{2})$/.exec(time || '');
    if (!d || !t) {
        return null;
    }
    return new Date(+d[1], +d[2] - 1, +d[3], +t[1], +t[2], +t[3]);
}

function shorten(text) {
    if (text.length <= MAX_UNITS) {
        return text;
    }
    var cut = MAX_UNITS - 3;
    var code = text.charCodeAt(cut - 1);
    if (code >= 0xD800 && code <= 0xDBFF) {
        cut -= 1;    // never split a surrogate pair
    }
    return text.substring(0, cut) + '...';
}

try {
    var p = JSON.parse(value);
    ['url', 'api_key', 'to', 'message', 'event_id'].forEach(function (name) {
        if (!present(p[name])) {
            throw 'Parameter "' + name + '" is not set.';
        }
    });

    var text = present(p.subject) ? p.subject + '\n' + p.message : p.message;
    var parts = ['zabbix', p.event_id, present(p.event_value) ? p.event_value : 'x'];
    var at = eventTime(p.event_date, p.event_time);
    if (p.event_update_status === '1') {
        parts.push('update', p.event_update_date + p.event_update_time);
        at = eventTime(p.event_update_date, p.event_update_time);
    } else if (p.event_value === '0') {
        at = eventTime(p.event_recovery_date, p.event_recovery_time) || at;
    }
    parts.push(p.to);
    var idempotencyKey = parts.join('-').replace(/[^A-Za-z0-9._:+-]/g, '_').substring(0, 255);

    // Any priority above 0 is "high": alerts go before every other waiting SMS.
    var body = {to: p.to, text: shorten(text), priority: 100, metadata: {source: 'zabbix', event_id: p.event_id}};
    if (present(p.site)) {
        body.site = p.site;
    }
    var ttl = parseInt(p.expire_minutes, 10);
    if (ttl > 0 && at) {
        var expires = new Date(at.getTime() + ttl * 60000);
        if (expires.getTime() <= Date.now()) {
            throw 'the event is older than expire_minutes (' + ttl + '); an SMS about it would come too late';
        }
        body.expires_at = expires.toISOString();
    }

    var request = new HttpRequest();
    if (present(p.http_proxy)) {
        request.setProxy(p.http_proxy);
    }
    request.addHeader('Content-Type: application/json');
    request.addHeader('X-API-Key: ' + p.api_key);
    request.addHeader('Idempotency-Key: ' + idempotencyKey);
    var url = p.url.replace(/\/+$/, '') + '/api/v1/messages';
    var response = request.post(url, JSON.stringify(body));
    var status = request.getStatus();
    Zabbix.log(4, '[smsgw] POST ' + url + ' (' + idempotencyKey + ') -> ' + status + ': ' + response);

    if (status !== 200 && status !== 201) {
        var detail = response;
        try {
            var problem = JSON.parse(response);
            detail = (problem.code ? problem.code + ': ' : '') + (problem.detail || problem.title || response);
        } catch (ignored) {
            // not problem+json; keep the raw body
        }
        throw 'HTTP ' + status + ': ' + detail;
    }
    return 'OK';
} catch (error) {
    Zabbix.log(3, '[smsgw] sending failed: ' + error);
    throw 'Sending failed: ' + error;
}
