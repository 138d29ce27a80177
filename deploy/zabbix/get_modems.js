// Zabbix script item smsgw.modems.get (embedded in smsgw_template.yaml; this file is the
// source, deploy/zabbix/validate.py checks that both are equal). Zabbix runs it in Duktape:
// ES5 only. Returns every modem of every site: [{site, id, state, updated_at, age}].
var params = JSON.parse(value);
var base = String(params.url || '').replace(/\/+$/, '');
var key = String(params.api_key || '');

if (!base || base.charAt(0) === '{') {
    throw 'Set {$SMSGW.API.URL} to the API base URL.';
}
if (key.charAt(0) === '{') {
    key = '';
}

function get(path, withKey) {
    var request = new HttpRequest();
    request.addHeader('Accept: application/json');
    if (withKey) {
        request.addHeader('X-API-Key: ' + key);
    }
    var body = request.get(base + path);
    var status = request.getStatus();
    Zabbix.log(5, '[smsgw] GET ' + path + ' -> ' + status);
    if (status !== 200) {
        throw 'GET ' + path + ' answered HTTP ' + status + ': ' + body;
    }
    return JSON.parse(body);
}

// RFC 3339 with up to nine fractional digits; Date.parse wants at most three.
function age(at, now) {
    var t = Date.parse(String(at).replace(/(\.\d{3})\d+/, '$1'));
    return isNaN(t) ? null : Math.max(0, Math.round((now - t) / 1000));
}

if (!key) {
    throw 'Set {$SMSGW.API.KEY}: /api/health lists sites and modems only to an API key with the sites permission.';
}
var health = get('/api/health', true);
if (!health.sites) {
    throw 'GET /api/health lists no sites: give the key {$SMSGW.API.KEY} the sites permission.';
}
var now = Date.now();
var out = [];
health.sites.forEach(function (site) {
    var modems = site.modems;
    if (!modems) {
        if (!site.modem_count) {
            return;
        }
        modems = get('/api/v1/sites/' + encodeURIComponent(site.id), true).modems || [];
    }
    modems.forEach(function (m) {
        var state = m.state || m;
        var updated = m.updated_at || state.at;
        out.push({site: site.id, id: m.id, state: state, updated_at: updated, age: age(updated, now)});
    });
});
return JSON.stringify(out);
