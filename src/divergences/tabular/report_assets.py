"""Stylesheet and script inlined in every HTML report (no CDN, no network request, one file)."""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root{--ref:#4c78a8;--cur:#f58518;--bad:#b42318;--ok:#067647;--warn:#b54708;--muted:#57606a;--line:#e5e7eb}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:var(--muted);font-size:13px;margin-bottom:12px}.meta code{background:#f3f4f6;padding:1px 4px;border-radius:3px}
.verdict{border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:6px;padding:10px 14px;margin:12px 0 8px;max-width:1100px}
.verdict.drift{border-left-color:var(--bad);background:#fff8f7}.verdict .big{font-size:18px;font-weight:600}
.verdict .yes{color:var(--bad)}.verdict .no{color:var(--ok)}.verdict ul{margin:6px 0 0 18px;padding:0;font-size:13px}
.skipped{color:var(--warn);font-size:13px}
.controls{margin:8px 0;font-size:13px;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.controls input[type=search]{padding:3px 6px;min-width:220px}
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}th:first-child,td:first-child{text-align:left;white-space:normal;word-break:break-word;min-width:10em;max-width:24em}
.scroll{overflow-x:auto;max-width:100%}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
tr.drift td{background:#fff1f0}.band-significant{color:var(--bad);font-weight:600}.band-moderate{color:var(--warn)}
.band-stable{color:var(--ok)}.ci{color:var(--muted);font-size:11px}.flag{color:var(--warn);font-weight:600}
.cols{display:flex;flex-wrap:wrap;gap:16px}.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px;width:400px}
.card h3{font-size:14px;margin:0 0 4px;overflow-wrap:anywhere}.card .sub{font-size:12px;color:var(--muted)}
.card table{font-size:11px;margin-top:6px}.card td,.card th{padding:2px 4px;cursor:default}
.card td:first-child,.card th:first-child{min-width:0}.card table.quantiles{max-width:100%}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
svg text{font-family:inherit}
#iv td:first-child,#iv th:first-child{text-align:left}
"""

JS = """
(function(){
  function sortable(table){
    var heads=table.tHead.rows[0].cells;
    function sortBy(i){
      var body=table.tBodies[0], rows=Array.prototype.slice.call(body.rows);
      var asc=!heads[i].classList.contains('sorted-asc');
      for(var j=0;j<heads.length;j++){heads[j].classList.remove('sorted-asc','sorted-desc');}
      heads[i].classList.add(asc?'sorted-asc':'sorted-desc');
      rows.sort(function(a,b){
        var x=a.cells[i].getAttribute('data-v'), y=b.cells[i].getAttribute('data-v');
        var nx=parseFloat(x), ny=parseFloat(y), c;
        if(x===''&&y===''){c=0;}else if(x===''){return 1;}else if(y===''){return -1;}
        else if(!isNaN(nx)&&!isNaN(ny)){c=nx-ny;}else{c=x<y?-1:(x>y?1:0);}
        return asc?c:-c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    }
    for(var i=0;i<heads.length;i++){(function(i){heads[i].addEventListener('click',function(){sortBy(i);});})(i);}
  }
  var tables=document.querySelectorAll('table.sortable');
  for(var t=0;t<tables.length;t++){sortable(tables[t]);}
  var table=document.getElementById('summary');
  if(!table){return;}
  var q=document.getElementById('filter'), only=document.getElementById('only-drift'), kind=document.getElementById('kind');
  var shown=document.getElementById('shown');
  function apply(){
    var text=(q.value||'').toLowerCase(), k=kind.value, n=0, rows=table.tBodies[0].rows;
    for(var i=0;i<rows.length;i++){
      var r=rows[i], ok=(r.getAttribute('data-name')||'').toLowerCase().indexOf(text)>=0;
      if(only.checked&&r.getAttribute('data-drift')!=='1'){ok=false;}
      if(k&&r.getAttribute('data-kind')!==k){ok=false;}
      r.style.display=ok?'':'none'; if(ok){n++;}
    }
    shown.textContent=n+' of '+rows.length+' columns shown';
  }
  q.addEventListener('input',apply); only.addEventListener('change',apply); kind.addEventListener('change',apply);
  apply();
})();
"""
