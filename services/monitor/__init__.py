"""Monitor: consumer lag per consumer group and topic, for operators (liandong_consumer_lag_messages).

Topics in:  none (reads group offsets and log end offsets through the admin API)
Topics out: none
"""
