def test_portal_home_shows_balance(client, make):
    from tests.helpers import sign_in

    user = make.portal_user()
    account = user.account
    make.invoice(account)
    sign_in(client, user.email)
    html = client.get("/").get_data(as_text=True)
    assert "Outstanding" in html and "$379.99" in html
