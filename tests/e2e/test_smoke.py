from bot.sandbox.driver import Sandbox, SandboxUser


async def test_admin_gets_help(sandbox: Sandbox, admin: SandboxUser) -> None:
    replies = await admin.send("/start")
    print(replies.text)
    replies = await admin.send("/help")
    print(replies.text)
    assert "/audit" in replies.text
