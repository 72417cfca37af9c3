"""Email reports: sent, delivered, opened, clicked, replied, bounced and unsubscribed, over
time and per rep, team, email type, sequence step, template and token, read from rollups.

`facts` says what one email counts for; `rollups` keeps the per-day rollups current (the
refresh job) and rebuilds them; `names` is the registry through which the apps above name a
sequence step or a token; `query` answers the page (and its CSV) for one user's filters;
`helpdesk` the help-desk inboxes' response times.
"""
