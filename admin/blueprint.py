"""The staff admin's URL table."""

from flask import Blueprint, redirect, url_for

from billing.models import Realm
from web import sign_in
from web.auth import staff_login_required

blueprint = Blueprint("admin", __name__)
sign_in.register(blueprint, Realm.STAFF, home_endpoint="admin.home")


@blueprint.get("/", endpoint="home")
@staff_login_required
def home():
    return redirect(url_for("admin.customer_list"))
