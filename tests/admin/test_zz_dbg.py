from tests.admin.test_lists import *  # noqa
from sqlalchemy import create_engine, text

def states():
    e=create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with e.connect() as c:
        r = list(c.execute(text("select state, left(query,60) from pg_stat_activity where datname='paydesk_test_invoicing'")))
    e.dispose()
    return r

def test_dbg(admin_client, book):
    print("before", states())
    r = admin_client.get("/admin/invoices.csv?currency=EUR")
    print("got", states())
    r.get_data()
    print("data", states())
    r.close()
    print("closed", states())
