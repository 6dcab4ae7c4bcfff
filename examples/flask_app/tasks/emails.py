from celery import shared_task


@shared_task(name="shop.send_welcome_email")
def send_welcome_email(address: str) -> str:
    return f"welcome sent to {address}"
