"""ponder.agents"""
