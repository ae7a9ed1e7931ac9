"""Tests of the staff admin."""

from billing.models import StaffRole, StaffUser
from tests.helpers import sign_in


def sign_in_staff(client, make, role: StaffRole = StaffRole.ADMIN, **values) -> StaffUser:
    """Make a staff user (an admin unless `role` says otherwise) and sign `client` in as them."""
    staff = make.staff_user(**{"name": "Ada Admin", "role": role} | values)
    sign_in(client, staff.email, admin=True)
    return staff
