/* Timezones as people know them: "(GMT+01:00) Paris · Central European Time", ordered by
   offset, for every zone the browser knows (IANA names are what the API takes).
   window.HoldfastZones = { device, label(zone), fill(select, current) }. */
(function () {
  'use strict';
  var reported = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  var FALLBACK = ['UTC', 'Europe/London', 'Europe/Paris', 'Europe/Berlin', 'America/New_York',
    'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Sydney'];

  // Old names some browsers' ICU still lists, as today's IANA names (the ones the API takes).
  var RENAMED = { 'Asia/Calcutta': 'Asia/Kolkata', 'Asia/Katmandu': 'Asia/Kathmandu', 'Asia/Saigon': 'Asia/Ho_Chi_Minh',
    'Asia/Rangoon': 'Asia/Yangon', 'Europe/Kiev': 'Europe/Kyiv', 'America/Godthab': 'America/Nuuk',
    'Atlantic/Faeroe': 'Atlantic/Faroe', 'Pacific/Truk': 'Pacific/Chuuk', 'Pacific/Ponape': 'Pacific/Pohnpei',
    'Pacific/Enderbury': 'Pacific/Kanton', 'America/Coral_Harbour': 'America/Atikokan',
    'America/Indianapolis': 'America/Indiana/Indianapolis', 'America/Louisville': 'America/Kentucky/Louisville',
    'America/Buenos_Aires': 'America/Argentina/Buenos_Aires', 'America/Catamarca': 'America/Argentina/Catamarca',
    'America/Cordoba': 'America/Argentina/Cordoba', 'America/Jujuy': 'America/Argentina/Jujuy',
    'America/Mendoza': 'America/Argentina/Mendoza' };

  var device = RENAMED[reported] || reported;

  function part(zone, style) {
    try {
      var found = new Intl.DateTimeFormat('en-GB', { timeZone: zone, timeZoneName: style }).formatToParts(new Date())
        .find(function (p) { return p.type === 'timeZoneName'; });
      return found ? found.value : '';
    } catch (e) { return ''; }
  }
  function offset(zone) {  // minutes east of UTC, now
    var m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(part(zone, 'longOffset'));
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] || 0)) : 0;
  }
  function label(zone) {
    var gmt = part(zone, 'longOffset') || 'GMT', name = part(zone, 'long');
    if (gmt === 'GMT') gmt = 'GMT+00:00';
    var city = zone === 'UTC' ? 'UTC' : zone.split('/').slice(-1)[0].replace(/_/g, ' ');
    return '(' + gmt + ') ' + city + (name && name !== city ? ' · ' + name : '');
  }
  function zones(current) {
    var list;
    try { list = Intl.supportedValuesOf('timeZone').map(function (z) { return RENAMED[z] || z; }); } catch (e) { list = FALLBACK.slice(); }
    [current, device, 'UTC'].forEach(function (z) { if (z && list.indexOf(z) < 0) list.push(z); });
    return list.map(function (z) { return { zone: z, offset: offset(z), label: label(z) }; })
      .sort(function (a, b) { return a.offset - b.offset || (a.label < b.label ? -1 : 1); });
  }
  function fill(select, current) {
    var doc = select.ownerDocument;
    select.replaceChildren.apply(select, zones(current).map(function (z) {
      var option = doc.createElement('option');
      option.value = z.zone; option.textContent = z.label;
      return option;
    }));
    select.value = current || device;
  }

  window.HoldfastZones = Object.freeze({ device: device, label: label, fill: fill });
})();
